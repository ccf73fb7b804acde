import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Klarefi } from "../../client/klarefi";
import { DEFAULT_MAX_CONCURRENCY } from "../../client/settings";
import { LOCAL_TEST_API_KEY } from "../../contract/fields";
import type { Session } from "../../contract/schemas";
import { type CliRun as Run, runCli } from "../helpers/cli";
import { closedPort, sessionBody, useTestServer } from "../helpers/server";

/**
 * `klarefi sessions status|revoke --from-csv <mail-merge file>` through
 * `main()`, against a real local server, plus the CLI's JSON errors and
 * config hints.
 */

const KEY = "sk_test_cli_campaign_secret_0123456789";
const server = useTestServer({ dbPath: ":memory:", apiKeys: [KEY] });
let klarefi: Klarefi;
let dir: string;
const everything: string[] = [];

async function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const result = await runCli(args, { env: { KLAREFI_API_KEY: KEY, KLAREFI_BASE_URL: server.url, ...env } });
  everything.push(result.stdout, result.stderr);
  return result;
}

beforeAll(async () => {
  klarefi = new Klarefi({ apiKey: KEY, baseUrl: server.url });
  dir = mkdtempSync(path.join(tmpdir(), "klarefi-cli-campaign-"));
});

afterAll(async () => {
  await klarefi?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const text of everything) expect(text).not.toContain(KEY);
});

let fileCounter = 0;
/** Writes a mail-merge file as a campaign does (with the locale and expires_at columns) and returns its path. */
function mailMerge(rows: { caseId: string; sessionId: string; signedUrl?: string }[]): string {
  fileCounter += 1;
  const file = path.join(dir, `links-${fileCounter}.csv`);
  const lines = ["external_case_id,external_applicant_id,session_id,signed_url,locale,expires_at"];
  for (const r of rows) lines.push([r.caseId, `app_${r.caseId}`, r.sessionId, r.signedUrl ?? "", "nl", ""].join(","));
  writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
  return file;
}

/** Requests the server has counted under /api/v1 since the last reset. */
function apiCalls(counters: { route: string; count: number }[]): number {
  return counters.filter((c) => c.route.includes("/api/v1/")).reduce((n, c) => n + c.count, 0);
}

async function createSessions(count: number, prefix: string): Promise<Session[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => klarefi.sessions.create(sessionBody({ external_case_id: `${prefix}_${i}` }))),
  );
}

/**
 * A campaign after its mailing: 2 open, 1 completed by the applicant, 1
 * revoked out of band, 1 expired, 1 the API does not know. Rows in file order.
 */
async function campaignAfterMailing() {
  const [open1, open2, completed, revoked] = await createSessions(4, `claim_${fileCounter}`);
  const expiring = await klarefi.sessions.create(
    sessionBody({ external_case_id: `claim_${fileCounter}_exp`, expires_at: new Date(Date.now() + 60_000).toISOString() }),
  );
  const submit = await fetch(completed!.signed_url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "description=done" });
  expect(submit.status).toBe(200);
  await submit.text();
  await klarefi.sessions.revoke(revoked!.session_id);
  await server.admin.advanceClock(120);
  const file = mailMerge([
    { caseId: "c_open_1", sessionId: open1!.session_id, signedUrl: open1!.signed_url },
    { caseId: "c_completed", sessionId: completed!.session_id, signedUrl: completed!.signed_url },
    { caseId: "c_open_2", sessionId: open2!.session_id, signedUrl: open2!.signed_url },
    { caseId: "c_revoked", sessionId: revoked!.session_id, signedUrl: revoked!.signed_url },
    { caseId: "c_expired", sessionId: expiring.session_id, signedUrl: expiring.signed_url },
    { caseId: "c_gone", sessionId: "ses_doesnotexist0000000000" },
  ]);
  return { file, sessions: { open1: open1!, open2: open2!, completed: completed!, revoked: revoked!, expiring } };
}

describe("klarefi sessions status --from-csv", () => {
  it("counts the file's sessions per status and lists the rows that are not open, without any signed URL", async () => {
    const { file, sessions } = await campaignAfterMailing();
    const result = await run(["sessions", "status", "--from-csv", file]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain(`${file}: 6 sessions`);
    expect(result.stdout).toMatch(/open\s+2\n/);
    expect(result.stdout).toMatch(/completed\s+1\n/);
    expect(result.stdout).toMatch(/revoked\s+1\n/);
    expect(result.stdout).toMatch(/expired\s+1\n/);
    expect(result.stdout).toMatch(/not found\s+1\n/);
    expect(result.stdout).toContain(`Not open (4):`);
    expect(result.stdout).toContain(`line 3  c_completed  ${sessions.completed.session_id}  completed`);
    expect(result.stdout).toContain(`line 7  c_gone  ses_doesnotexist0000000000  not found`);
    expect(result.stdout).not.toContain(sessions.open1.session_id);
    for (const s of Object.values(sessions)) expect(result.stdout).not.toContain(s.signed_url);
    expect(result.stdout).not.toContain("sig=");
  });

  it("prints the same counts and rows as JSON under --json", async () => {
    const { file, sessions } = await campaignAfterMailing();
    const result = await run(["sessions", "status", "--from-csv", file, "--json"]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { total: number; counts: Record<string, number>; not_open: { line: number; session_id: string; status: string }[] };
    expect(parsed.total).toBe(6);
    expect(parsed.counts).toEqual({ open: 2, completed: 1, revoked: 1, expired: 1, not_found: 1 });
    expect(parsed.not_open.map((r) => [r.line, r.status])).toEqual([
      [3, "completed"],
      [5, "revoked"],
      [6, "expired"],
      [7, "not_found"],
    ]);
    expect(parsed.not_open[0]).toMatchObject({ external_case_id: "c_completed", external_applicant_id: "app_c_completed", session_id: sessions.completed.session_id });
    expect(result.stdout).not.toContain("signed_url");
  });

  it("reads many sessions at once but never more than the client's concurrency cap", async () => {
    // Created one at a time, so the server's peak of requests in flight is the CLI's alone.
    const serial = new Klarefi({ apiKey: KEY, baseUrl: server.url, maxConcurrency: 1 });
    const sessions: Session[] = [];
    try {
      for (let i = 0; i < 40; i++) sessions.push(await serial.sessions.create(sessionBody({ external_case_id: `claim_many_${i}` })));
    } finally {
      await serial.close();
    }
    const file = mailMerge(sessions.map((s, i) => ({ caseId: `many_${i}`, sessionId: s.session_id })));
    await server.admin.setFaults({ latencyMs: 25 });
    const started = Date.now();
    const result = await run(["sessions", "status", "--from-csv", file, "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).counts.open).toBe(40);
    const peak = await server.admin.peakInFlight();
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(DEFAULT_MAX_CONCURRENCY);
    // 40 reads of 25 ms one at a time would take a second.
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("stops at the first failure with one error line that says how far it got", async () => {
    const file = mailMerge([{ caseId: "c1", sessionId: "ses_a" }, { caseId: "c2", sessionId: "ses_b" }]);
    const result = await run(["sessions", "status", "--from-csv", file], { KLAREFI_BASE_URL: `http://127.0.0.1:${await closedPort()}` });
    expect(result.code).toBe(5);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/could not reach .* of 2 sessions were read before it, and running the command again is safe/);
  });

  it("reports every bad row of the file at once, with its line, before any API call", async () => {
    const file = path.join(dir, "bad-rows.csv");
    writeFileSync(file, "external_case_id,session_id,signed_url\nc1,ses_ok,\nc2,,\nc3,ses/../admin,\n", { mode: 0o600 });
    const result = await run(["sessions", "status", "--from-csv", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file} has 2 invalid rows, nothing was sent: line 3: session_id is required; line 4: session_id must be a session id such as ses_…`);
    expect(await server.admin.counters()).toEqual([]);
  });

  it.each([
    ["a file without a session_id column", "external_case_id,signed_url\nc1,x\n", "has no session_id column"],
  ])("refuses %s", async (_what, text, message) => {
    const file = path.join(dir, "no-column.csv");
    writeFileSync(file, text, { mode: 0o600 });
    const result = await run(["sessions", "status", "--from-csv", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it("needs --from-csv", async () => {
    const result = await run(["sessions", "status"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("missing required flag --from-csv");
  });
});

describe("klarefi sessions revoke --from-csv", () => {
  it("with --dry-run reads every status and says it would revoke only the open sessions, revoking nothing", async () => {
    const { file, sessions } = await campaignAfterMailing();
    const revokes = async () => (await server.admin.counters()).filter((c) => c.route.includes("/revoke")).reduce((n, c) => n + c.count, 0);
    const revokesBefore = await revokes();
    const result = await run(["sessions", "revoke", "--from-csv", file, "--dry-run"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(
      `Would revoke 2 of the 6 sessions of ${file}; left as they are: 1 completed, 1 already revoked, 1 expired, 1 not found (dry run: statuses read, nothing revoked):`,
    );
    expect(lines.slice(1)).toEqual([`  line 2  c_open_1  ${sessions.open1.session_id}`, `  line 4  c_open_2  ${sessions.open2.session_id}`]);
    expect(result.stdout).not.toContain("sig=");
    expect(await revokes()).toBe(revokesBefore);
    expect((await klarefi.sessions.retrieve(sessions.open1.session_id)).status).toBe("open");

    const json = await run(["sessions", "revoke", "--from-csv", file, "--dry-run", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      file,
      dry_run: true,
      total: 6,
      counts: { open: 2, completed: 1, revoked: 1, expired: 1, not_found: 1 },
      would_revoke: [
        { line: 2, external_case_id: "c_open_1", external_applicant_id: "app_c_open_1", session_id: sessions.open1.session_id },
        { line: 4, external_case_id: "c_open_2", external_applicant_id: "app_c_open_2", session_id: sessions.open2.session_id },
      ],
    });
    expect((await klarefi.sessions.retrieve(sessions.open2.session_id)).status).toBe("open");
    expect(await revokes()).toBe(revokesBefore);
  });

  it("revokes every session of the file, counts revoked, expired, completed and gone as done, and can run again", async () => {
    const { file, sessions } = await campaignAfterMailing();
    const first = await run(["sessions", "revoke", "--from-csv", file, "--json"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ dry_run: false, total: 6, counts: { revoked: 3, expired: 1, completed: 1, not_found: 1 }, still_open: [] });
    for (const s of [sessions.open1, sessions.open2]) {
      expect((await klarefi.sessions.retrieve(s.session_id)).status).toBe("revoked");
      const page = await fetch(s.signed_url);
      expect(page.status).toBe(410);
      await page.text();
    }

    const again = await run(["sessions", "revoke", "--from-csv", file]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Revoked the sessions of ${file}: 6 sessions, none of them open now`);
    expect(again.stdout).toMatch(/revoked\s+3\n/);
    expect(again.stdout).toMatch(/not found\s+1\n/);

    const status = await run(["sessions", "status", "--from-csv", file, "--json"]);
    expect(JSON.parse(status.stdout).counts.open).toBe(0);
  });

  it.each([
    [["sessions", "revoke", "ses_1", "--from-csv", "x.csv"], "either a <session-id> or --from-csv"],
    [["sessions", "revoke", "ses_1", "--dry-run"], "--dry-run goes with --from-csv"],
    [["sessions", "revoke", "--from-csv", "/nonexistent/links.csv"], "cannot read /nonexistent/links.csv: it does not exist (ENOENT)"],
    [["sessions", "status", "--from-csv", "missing-links.csv"], `cannot read ${path.resolve("missing-links.csv")}: it does not exist (ENOENT)`],
  ])("%j exits 2", async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe("errors as JSON under --json", () => {
  it("prints an API error as one JSON object on stderr with the exit code and the request id", async () => {
    const result = await run(["sessions", "get", "ses_nope", "--json"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    const { error } = JSON.parse(result.stderr) as { error: Record<string, unknown> };
    expect(error).toMatchObject({ name: "KlarefiNotFoundError", exit_code: 4, status: 404, type: "not_found_error", code: "resource_missing", param: "id" });
    expect(error.request_id).toMatch(/^req_\w+$/);
    expect(error.message).toMatch(/^Retrieving intake session ses_nope failed: 404 /);
  });

  it("prints a usage error as JSON with the help to read", async () => {
    const result = await run(["sessions", "status", "--json"]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stderr)).toEqual({
      error: { name: "UsageError", message: "missing required flag --from-csv <mail-merge file>", exit_code: 2, help: "klarefi sessions status --help" },
    });
  });

  it("prints a config error as JSON", async () => {
    const result = await run(["sessions", "get", "ses_1", "--json"], { KLAREFI_API_KEY: undefined });
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stderr).error).toMatchObject({ name: "KlarefiConfigError", exit_code: 3, code: "api_key_missing" });
  });

  it("keeps plain one-line errors without --json", async () => {
    const result = await run(["sessions", "get", "ses_nope"]);
    expect(result.stderr).toMatch(/^klarefi: Retrieving intake session ses_nope failed: 404 /);
  });
});

describe("configuration hints", () => {
  it("shows the documented local test key in the missing-key hint, unredacted", async () => {
    const result = await run(["sessions", "get", "ses_1"], { KLAREFI_API_KEY: undefined });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`the local test key is ${LOCAL_TEST_API_KEY}`);
    expect(result.stderr).not.toContain("[redacted]");
  });

  it.each([
    ["KLAREFI_BASE_URL", (url: string) => ({ args: ["sessions", "get", "ses_1"], env: { KLAREFI_BASE_URL: `${url}/api/v1` } })],
    ["--base-url", (url: string) => ({ args: ["sessions", "get", "ses_1", "--base-url", `${url}/api/v1/`], env: {} })],
  ])("exits 3 on a base URL from %s that ends in /api/v1, saying to drop the suffix", async (source, build) => {
    const { args, env } = build(server.url);
    const result = await run(args, env);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`klarefi: ${source} ends in /api/v1: drop the suffix and give only the origin, e.g. ${server.url}`);
  });
});

describe("help", () => {
  it("klarefi --help lists the bulk commands and --json errors", async () => {
    const result = await run(["--help"]);
    expect(result.stdout).toContain("sessions status   Count the sessions of a mail-merge file by status (--from-csv <file>)");
    expect(result.stdout).toContain("--from-csv <file> [--dry-run]");
    expect(result.stdout).toContain("--json");
  });

  it.each([
    [["sessions", "status", "--help"], "Usage: klarefi sessions status --from-csv <mail-merge file>"],
    [["sessions", "revoke", "--help"], "klarefi sessions revoke --from-csv <mail-merge file> [--dry-run]"],
    [["sessions", "--help"], "status --from-csv <file>"],
  ])("%j explains the bulk form", async (args, text) => {
    const result = await run(args);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(text);
  });
});
