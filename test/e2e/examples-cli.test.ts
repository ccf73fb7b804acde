import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fetch } from "undici";
import { describe, expect, it } from "vitest";
import { offlinePulumiEnv, randomStackName, repoRoot } from "../helpers/pulumi";
import { startTestServer, type TestServer } from "../helpers/server";

// The programs a user runs with the `pulumi` CLI (the root Pulumi.yaml and
// the two examples), driven through that CLI as child processes: the
// language host, ts-node, the dynamic-provider plugin and the file backend
// all take part, as they do on a user's machine.

const CLI_TIMEOUT_MS = 120_000;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One throwaway stack of a project folder, with its config file kept out of that folder. */
interface CliStack {
  name: string;
  /** Runs `pulumi <args>` in the project folder; rejects on a non-zero exit unless `allowFailure`. */
  pulumi(args: readonly string[], opts?: { input?: string; allowFailure?: boolean }): Promise<CliResult>;
  /** `pulumi config set` into the stack's config file. */
  config(key: string, value: string, opts?: { secret?: boolean }): Promise<void>;
  up(): Promise<CliResult>;
  destroy(): Promise<CliResult>;
  /** `pulumi preview --json`: the change summary and the steps. */
  preview(): Promise<{ changeSummary: Record<string, number>; steps: { op: string; urn: string }[] }>;
  /** `pulumi stack output --json`, secrets shown or not. */
  outputs(showSecrets: boolean): Promise<Record<string, unknown>>;
}

function runCli(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, input = ""): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", [...args], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`pulumi ${args.join(" ")} ran longer than ${CLI_TIMEOUT_MS / 1000} s and was killed.`));
    }, CLI_TIMEOUT_MS);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.stdin.end(input);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/**
 * Creates a stack of the project in `projectDir` on a temporary file backend
 * (a fresh PULUMI_HOME, the test passphrase), pointed at `server`, runs `fn`,
 * then destroys and removes the stack and deletes the temporary folders,
 * whatever happened. `pulumi stack init` writes the stack's config file next
 * to Pulumi.yaml; it is moved out at once so the project folder stays as
 * committed.
 */
async function withCliStack(projectDir: string, server: TestServer, fn: (stack: CliStack) => Promise<void>): Promise<void> {
  const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-cli-"));
  const backendDir = path.join(scratch, "backend");
  const home = path.join(scratch, "home");
  mkdirSync(backendDir);
  mkdirSync(home);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...offlinePulumiEnv(backendDir, home),
    PATH: `${path.join(repoRoot, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
  };
  delete env.KLAREFI_API_KEY;
  delete env.KLAREFI_BASE_URL;
  const name = randomStackName("cli");
  const configFile = path.join(scratch, `Pulumi.${name}.yaml`);
  const scope = ["--stack", name];
  const withConfig = [...scope, "--config-file", configFile];

  const pulumi: CliStack["pulumi"] = async (args, opts = {}) => {
    const result = await runCli(args, projectDir, env, opts.input);
    if (result.code !== 0 && !opts.allowFailure) {
      throw new Error(`pulumi ${args.join(" ")} exited with ${result.code}:\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
    }
    return result;
  };
  const stack: CliStack = {
    name,
    pulumi,
    config: async (key, value, opts = {}) => {
      await pulumi(["config", "set", ...withConfig, ...(opts.secret ? ["--secret"] : []), key], { input: value });
    },
    up: () => pulumi(["up", "--yes", "--non-interactive", "--skip-preview", ...withConfig]),
    destroy: () => pulumi(["destroy", "--yes", "--non-interactive", "--skip-preview", ...withConfig]),
    preview: async () => {
      const result = await pulumi(["preview", "--json", "--non-interactive", ...withConfig]);
      return JSON.parse(result.stdout) as { changeSummary: Record<string, number>; steps: { op: string; urn: string }[] };
    },
    outputs: async (showSecrets) => {
      const result = await pulumi(["stack", "output", "--json", ...scope, ...(showSecrets ? ["--show-secrets"] : [])]);
      return JSON.parse(result.stdout) as Record<string, unknown>;
    },
  };

  const projectStackFile = path.join(projectDir, `Pulumi.${name}.yaml`);
  let created = false;
  try {
    await pulumi(["stack", "init", name, "--secrets-provider", "passphrase", "--non-interactive"]);
    created = true;
    if (existsSync(projectStackFile)) {
      writeFileSync(configFile, readFileSync(projectStackFile));
      rmSync(projectStackFile);
    }
    await stack.config("klarefi:baseUrl", server.url);
    await stack.config("klarefi:apiKey", server.apiKey, { secret: true });
    await fn(stack);
  } finally {
    if (created) {
      await pulumi(["destroy", "--yes", "--non-interactive", "--skip-preview", ...withConfig], { allowFailure: true });
      await pulumi(["stack", "rm", "--yes", "--force", ...scope], { allowFailure: true });
    }
    rmSync(projectStackFile, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Status of every session on the server, by external case id (one session per case in these tests). */
async function statusByCase(server: TestServer): Promise<Map<string, string>> {
  const sessions = await server.admin.sessions();
  return new Map(sessions.map((s) => [s.external_case_id, s.status]));
}

async function httpStatus(url: string): Promise<number> {
  const res = await fetch(url, { redirect: "manual" });
  await res.text();
  return res.status;
}

function readCsvRows(file: string): string[][] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.split(","));
}

describe("the Pulumi programs through the pulumi CLI", () => {
  it(
    "runs the root Pulumi.yaml program with our language host: stack config drives the campaign, up opens its links, destroy revokes them",
    async () => {
      const server = await startTestServer();
      const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-root-"));
      try {
        await withCliStack(repoRoot, server, async (stack) => {
          // Without a csvFile the program takes the example's applicants.csv from the project folder.
          const exampleRows = readCsvRows(path.join(repoRoot, "examples", "campaign", "applicants.csv")).length - 1;
          const defaults = await stack.preview();
          expect(defaults.changeSummary).toEqual({ create: exampleRows + 2 }); // the rows, the campaign, the stack

          const csv = path.join(scratch, "storm.csv");
          writeFileSync(csv, "external_case_id,external_applicant_id,locale\nstorm_1,app_1,\nstorm_2,app_2,de\nstorm_3,app_3,\n");
          const mailMerge = path.join(scratch, "mail-merge.csv");
          await stack.config("klarefi-intake:csvFile", csv);
          await stack.config("klarefi-intake:caseTypeId", "home_claim");
          await stack.config("klarefi-intake:locale", "fr");
          await stack.config("klarefi-intake:returnUrl", "https://claims.example.com/storm");
          await stack.config("klarefi-intake:mailMergeFile", mailMerge);

          await stack.up();
          const shown = await stack.outputs(false);
          expect(shown.size).toBe(3);
          expect(shown.links).toBe("[secret]");
          const links = (await stack.outputs(true)).links as Record<string, { sessionId: string; signedUrl: string }>;
          expect(Object.keys(links).sort()).toEqual(["storm_1", "storm_2", "storm_3"]);

          const open = await server.admin.sessions({ status: "open" });
          expect(open.map((s) => s.session_id).sort()).toEqual(Object.values(links).map((l) => l.sessionId).sort());
          for (const s of open) {
            expect(s.case_type_id).toBe("home_claim");
            expect(s.return_url).toBe("https://claims.example.com/storm");
            expect(s.locale).toBe(s.external_case_id === "storm_2" ? "de" : "fr"); // a row's own locale wins
          }

          // the mail-merge file holds the live links, readable by the owner only
          expect(statSync(mailMerge).mode & 0o777).toBe(0o600);
          const merged = readCsvRows(mailMerge);
          expect(merged[0]).toEqual(["external_case_id", "external_applicant_id", "session_id", "signed_url"]);
          expect(merged.slice(1).map((r) => [r[0], r[1], r[2]]).sort()).toEqual(
            Object.entries(links).map(([caseId, l]) => [caseId, caseId.replace("storm", "app"), l.sessionId]).sort(),
          );

          await stack.destroy();
          expect(await server.admin.sessions({ status: "open" })).toEqual([]);
          const statuses = await statusByCase(server);
          expect([...statuses.values()]).toEqual(["revoked", "revoked", "revoked"]);
        });
        expect(readdirSync(repoRoot).filter((f) => /^Pulumi\..+\.yaml$/.test(f))).toEqual([]);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
        await server.stop();
      }
    },
    300_000,
  );

  it(
    "provisions the documentation's single session from examples/single-session and revokes it on destroy",
    async () => {
      const server = await startTestServer();
      const projectDir = path.join(repoRoot, "examples", "single-session");
      const before = readdirSync(projectDir).sort();
      try {
        await withCliStack(projectDir, server, async (stack) => {
          await stack.up();
          expect((await stack.outputs(false)).signedUrl).toBe("[secret]");
          const { sessionId, signedUrl } = (await stack.outputs(true)) as { sessionId: string; signedUrl: string };

          const [session, ...others] = await server.admin.sessions();
          expect(others).toEqual([]);
          expect(session).toMatchObject({
            session_id: sessionId,
            status: "open",
            case_type_id: "motor_claim",
            external_case_id: "claim_48392",
            external_applicant_id: "applicant_789",
            return_url: "https://claims.example.com/claim_48392",
            locale: "nl",
          });
          expect(session?.signed_url).toBe(signedUrl);
          expect(await httpStatus(signedUrl)).toBe(200);

          await stack.destroy();
          expect((await server.admin.sessions())[0]?.status).toBe("revoked");
          expect(await httpStatus(signedUrl)).toBe(410);
        });
        expect(readdirSync(projectDir).sort()).toEqual(before);
      } finally {
        await server.stop();
      }
    },
    300_000,
  );

  it(
    "provisions examples/campaign from its CSV, previews an edited row as that row's change alone, and revokes every link on destroy",
    async () => {
      const server = await startTestServer();
      // The CSV is committed, so the edit happens on a copy (inside the repository, so `@klarefi/pulumi` resolves).
      const base = path.join(repoRoot, ".klarefi", "tmp");
      mkdirSync(base, { recursive: true });
      const copy = mkdtempSync(path.join(base, "campaign-"));
      const example = path.join(repoRoot, "examples", "campaign");
      for (const file of ["Pulumi.yaml", "package.json", "index.ts", "applicants.csv"]) cpSync(path.join(example, file), path.join(copy, file));
      try {
        await withCliStack(copy, server, async (stack) => {
          const rows = readCsvRows(path.join(copy, "applicants.csv"));
          const header = rows[0] ?? [];
          const body = rows.slice(1);
          expect(header).toEqual(["external_case_id", "external_applicant_id", "locale", "return_url"]);
          expect(body.length).toBeGreaterThanOrEqual(50);

          await stack.config("klarefi-hail-campaign:mailMergeFile", "links.csv");
          await stack.up();
          expect((await stack.outputs(false)).size).toBe(body.length);
          const links = (await stack.outputs(true)).links as Record<string, { sessionId: string; signedUrl: string }>;
          expect(Object.keys(links).sort()).toEqual(body.map((r) => r[0]).sort());

          const open = await server.admin.sessions({ status: "open" });
          expect(open).toHaveLength(body.length);
          for (const row of body) {
            const s = open.find((x) => x.external_case_id === row[0]);
            expect(s, `session of ${row[0]}`).toBeDefined();
            expect(s?.case_type_id).toBe("hail_damage");
            expect(s?.external_applicant_id).toBe(row[1]);
            expect(s?.locale).toBe(row[2] || "nl");
            expect(s?.return_url).toBe(row[3] || "https://claims.example.com/hail");
          }
          const merged = readCsvRows(path.join(copy, "links.csv"));
          expect(merged).toHaveLength(body.length + 1);
          expect(statSync(path.join(copy, "links.csv")).mode & 0o777).toBe(0o600);

          // edit one row: only its resource changes
          const edited = body[4] ?? [];
          const lines = readFileSync(path.join(copy, "applicants.csv"), "utf8").split("\n");
          const index = lines.findIndex((l) => l.startsWith(`${edited[0]},`));
          lines[index] = `${edited[0]},${edited[1]},de,${edited[3] ?? ""}`;
          writeFileSync(path.join(copy, "applicants.csv"), lines.join("\n"));
          const preview = await stack.preview();
          expect(preview.changeSummary).toEqual({ replace: 1, same: body.length + 1 });
          const touched = new Set(preview.steps.filter((s) => s.op !== "same").map((s) => s.urn));
          expect([...touched]).toEqual([expect.stringMatching(new RegExp(`::hail-${edited[0]}$`))]);
          // a preview changes nothing on the server
          expect(await server.admin.sessions({ status: "open" })).toHaveLength(body.length);

          await stack.destroy();
          expect(await server.admin.sessions({ status: "open" })).toEqual([]);
          const statuses = await statusByCase(server);
          expect(statuses.size).toBe(body.length);
          expect(new Set(statuses.values())).toEqual(new Set(["revoked"]));
          const anyLink = links[edited[0] ?? ""]?.signedUrl ?? "";
          expect(await httpStatus(anyLink)).toBe(410);
        });
      } finally {
        rmSync(copy, { recursive: true, force: true });
        await server.stop();
      }
    },
    300_000,
  );
});
