import { describe, expect, it } from "vitest";
import { Session } from "../../contract/schemas";
import { type CliRun as Run, runCli } from "../helpers/cli";
import { closedPort, useTestServer } from "../helpers/server";

/** The `klarefi` API commands through `main()`, against the local server, with captured output. */

const KEY = "sk_test_cli_main_secret_0123456789";
const server = useTestServer({ dbPath: ":memory:", apiKeys: [KEY], resetBeforeEach: false });

async function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const result = await runCli(args, { env: { KLAREFI_API_KEY: KEY, KLAREFI_BASE_URL: server.url, ...env } });
  // Whatever the command printed, it never echoes the key it was given.
  expect(result.stdout + result.stderr, "the command's output").not.toBe("");
  expect(result.stdout + result.stderr).not.toContain(KEY);
  return result;
}

/** One line on stderr, nothing on stdout. */
function expectOneErrorLine(result: Run) {
  expect(result.stdout).toBe("");
  expect(result.stderr.endsWith("\n")).toBe(true);
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
}

const SMOKE_TEST = [
  "sessions",
  "create",
  "--case-type",
  "motor_claim",
  "--external-case-id",
  "claim_48392",
  "--external-applicant-id",
  "applicant_789",
  "--return-url",
  "https://claims.example.com/claim_48392",
  "--url-only",
];

describe("klarefi sessions create", () => {
  it("runs the documentation's smoke test verbatim and prints only the signed URL", async () => {
    const before = await server.admin.sessions({ external_case_id: "claim_48392" });
    const result = await run(SMOKE_TEST);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/i\/ses_\w+\?exp=\d+&sig=[0-9a-f]+\n$/);
    const after = await server.admin.sessions({ external_case_id: "claim_48392" });
    expect(after).toHaveLength(before.length + 1);
    const created = after.find((s) => !before.some((b) => b.session_id === s.session_id));
    expect(created).toMatchObject({
      case_type_id: "motor_claim",
      external_applicant_id: "applicant_789",
      return_url: "https://claims.example.com/claim_48392",
      signed_url: result.stdout.trim(),
    });
    expect(created?.idempotency_key).toMatch(/^cli_[0-9a-f-]{36}$/);
  });

  it("prints the whole session as JSON with the idempotency key it used, and replays it for the same key", async () => {
    const args = [
      "sessions", "create", "--case-type", "home_claim", "--external-case-id", "claim_json",
      "--external-applicant-id", "app_json", "--locale", "nl-BE", "--trace-id", "trace_cli_1",
      "--idempotency-key", "cli_fixed_key_1", "--json",
    ];
    const first = await run(args);
    expect(first.code).toBe(0);
    const session = Session.parse(JSON.parse(first.stdout));
    expect(session).toMatchObject({ idempotency_key: "cli_fixed_key_1", locale: "nl-BE", trace_id: "trace_cli_1", case_type_id: "home_claim" });
    const second = await run(args);
    expect(Session.parse(JSON.parse(second.stdout)).session_id).toBe(session.session_id);
    expect(await server.admin.sessions({ external_case_id: "claim_json" })).toHaveLength(1);
  });

  it("prints a short summary with id, status, expiry and URL by default", async () => {
    const expiresAt = new Date(Date.now() + 3 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const result = await run([
      "sessions", "create", "--case-type", "travel_claim", "--external-case-id", "claim_summary",
      "--external-applicant-id", "app_summary", "--expires-at", expiresAt,
    ]);
    expect(result.code).toBe(0);
    const [stored] = await server.admin.sessions({ external_case_id: "claim_summary" });
    expect(stored).toBeDefined();
    expect(result.stdout).toContain(`Created intake session ${stored!.session_id}`);
    expect(result.stdout).toContain("status           open");
    expect(result.stdout).toContain(`expires_at       ${stored!.expires_at}`);
    expect(result.stdout).toContain(`signed_url       ${stored!.signed_url}`);
  });

  it.each([
    ["--case-type", ["--external-case-id", "c", "--external-applicant-id", "a"]],
    ["--external-case-id", ["--case-type", "motor_claim", "--external-applicant-id", "a"]],
    ["--external-applicant-id", ["--case-type", "motor_claim", "--external-case-id", "c"]],
  ])("exits 2 naming the missing required flag %s", async (flag, flags) => {
    const result = await run(["sessions", "create", ...flags]);
    expect(result.code).toBe(2);
    expectOneErrorLine(result);
    expect(result.stderr).toContain(`missing required flag ${flag}`);
    expect(result.stderr).toContain("klarefi sessions create --help");
  });

  it("exits 2 naming the flag whose value the contract refuses, before sending", async () => {
    const result = await run([...SMOKE_TEST.slice(0, 8), "--return-url", "ftp://claims.example.com"]);
    expect(result.code).toBe(2);
    expectOneErrorLine(result);
    expect(result.stderr).toMatch(/^klarefi: --return-url: return_url must be an absolute https:\/\/ URL/);
  });

  it.each([
    ["an unknown flag", [...SMOKE_TEST, "--colour", "red"], "Unknown option '--colour'"],
    ["--url-only with --json", [...SMOKE_TEST, "--json"], "--url-only and --json exclude each other"],
    ["a stray argument", [...SMOKE_TEST, "extra"], 'unexpected argument "extra"'],
    ["a base URL that is not one", [...SMOKE_TEST, "--base-url", "localhost:4010"], "--base-url must be an http:// or https:// URL"],
  ])("exits 2 on %s", async (_name, args, text) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expectOneErrorLine(result);
    expect(result.stderr).toContain(text);
  });

  it("refuses --api-key and points at KLAREFI_API_KEY without echoing the value", async () => {
    for (const args of [[...SMOKE_TEST, "--api-key", KEY], [...SMOKE_TEST, `--api-key=${KEY}`], ["--api-key", KEY, ...SMOKE_TEST]]) {
      const result = await run(args);
      expect(result.code).toBe(2);
      expectOneErrorLine(result);
      expect(result.stderr).toContain("KLAREFI_API_KEY");
    }
  });

  it("exits 1 with the API's message and request id when the API refuses the request", async () => {
    const result = await run(["sessions", "create", "--case-type", "motor_clam", "--external-case-id", "c", "--external-applicant-id", "a"]);
    expect(result.code).toBe(1);
    expectOneErrorLine(result);
    expect(result.stderr).toMatch(/^klarefi: Creating intake session failed: 422 Unknown case_type_id "motor_clam".* \(request req_\w+\)\n$/);
  });
});

describe("configuration and authentication", () => {
  it("exits 3 when KLAREFI_API_KEY is not set, saying how to set it", async () => {
    const result = await run(SMOKE_TEST, { KLAREFI_API_KEY: undefined });
    expect(result.code).toBe(3);
    expectOneErrorLine(result);
    expect(result.stderr).toContain("KLAREFI_API_KEY is not set");
  });

  it("exits 3 on a malformed KLAREFI_API_KEY without echoing it", async () => {
    const result = await run(SMOKE_TEST, { KLAREFI_API_KEY: "sk_prod_not_a_klarefi_key" });
    expect(result.code).toBe(3);
    expectOneErrorLine(result);
    expect(result.stderr).toContain("KLAREFI_API_KEY is malformed");
    expect(result.stderr).not.toContain("sk_prod_not_a_klarefi_key");
  });

  it("exits 3 when the API refuses the key, with the request id", async () => {
    const wrong = "sk_test_cli_wrong_key_0123456789";
    const result = await run(SMOKE_TEST, { KLAREFI_API_KEY: wrong });
    expect(result.code).toBe(3);
    expectOneErrorLine(result);
    expect(result.stderr).toMatch(/401 .*\(request req_\w+\)/);
    expect(result.stderr).not.toContain(wrong);
  });

  it("lets --base-url override KLAREFI_BASE_URL, before or after the subcommand", async () => {
    const env = { KLAREFI_BASE_URL: `http://127.0.0.1:${await closedPort()}` };
    const after = await run([...SMOKE_TEST, "--base-url", server.url], env);
    expect(after.code).toBe(0);
    const before = await run(["--base-url", server.url, ...SMOKE_TEST], env);
    expect(before.code).toBe(0);
  });

  it("exits 5 when the API cannot be reached", async () => {
    const result = await run(["sessions", "get", "ses_1"], { KLAREFI_BASE_URL: `http://127.0.0.1:${await closedPort()}` });
    expect(result.code).toBe(5);
    expectOneErrorLine(result);
    expect(result.stderr).toContain("could not reach");
  });
});

describe("klarefi sessions get / revoke and cases get", () => {
  it("print the session and the case as JSON, with or without --json", async () => {
    const created = Session.parse(JSON.parse((await run([...SMOKE_TEST.slice(0, 10), "--json"])).stdout));
    const got = await run(["sessions", "get", created.session_id]);
    expect(got.code).toBe(0);
    expect(Session.parse(JSON.parse(got.stdout)).session_id).toBe(created.session_id);

    const kase = await run(["cases", "get", created.session_id, "--json"]);
    expect(kase.code).toBe(0);
    expect(JSON.parse(kase.stdout)).toMatchObject({ object: "case", case_id: created.session_id });

    const revoked = await run(["sessions", "revoke", "--json", created.session_id]);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ session_id: created.session_id, status: "revoked" });
    const again = await run(["sessions", "revoke", created.session_id]);
    expect(again.code).toBe(0);
  });

  it.each([
    [["sessions", "get", "ses_nope"]],
    [["sessions", "revoke", "ses_nope"]],
    [["cases", "get", "ses_nope"]],
  ])("%j exits 4 when the id does not exist", async (args) => {
    const result = await run(args);
    expect(result.code).toBe(4);
    expectOneErrorLine(result);
    expect(result.stderr).toMatch(/failed: 404 .*\(request req_\w+\)/);
  });

  it.each([
    [["sessions", "get"], "missing the <session-id> argument"],
    [["sessions", "get", "a", "b"], "expected one <session-id>"],
    [["sessions", "get", "a/b"], 'without "/"'],
    [["cases"], "missing a cases command"],
    [["sessions", "list"], 'unknown sessions command "list"'],
    [["session"], 'unknown command "session"'],
    [[], "missing a command"],
  ])("%j exits 2", async (args, text) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expectOneErrorLine(result);
    expect(result.stderr).toContain(text);
  });
});

describe("help", () => {
  it("klarefi --help lists the commands, the exit codes and where the key comes from", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Usage: klarefi <command>");
      expect(result.stdout).toMatch(/Exit codes:\n\s+0\s+ok\n\s+1\s+API or server error\n\s+2\s+usage error/);
      expect(result.stdout).toContain("3  configuration or authentication error");
      expect(result.stdout).toContain("4  not found");
      expect(result.stdout).toContain("5  connection error or timeout");
      expect(result.stdout).toContain("There is no --api-key");
    }
  });

  it.each([
    [["sessions", "--help"]],
    [["sessions", "-h"]],
    [["sessions", "create", "--help"]],
    [["sessions", "create", "-h"]],
    [["sessions", "get", "--help"]],
    [["sessions", "revoke", "-h"]],
    [["cases", "--help"]],
    [["cases", "get", "--help"]],
    [["dev", "--help"]],
    [["dev", "-h"]],
  ])("%j prints usage and exits 0 without calling the API", async (args) => {
    const result = await run(args, { KLAREFI_API_KEY: undefined });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: klarefi /);
    expect(result.stderr).toBe("");
  });

  it("sessions create --help names every flag and says keys come from KLAREFI_API_KEY", async () => {
    const result = await run(["sessions", "create", "--help"]);
    for (const flag of ["--case-type", "--external-case-id", "--external-applicant-id", "--return-url", "--locale", "--trace-id", "--expires-at", "--idempotency-key", "--url-only", "--json", "--base-url"]) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain("KLAREFI_API_KEY");
    expect(result.stdout).toContain("there is no --api-key flag");
  });
});
