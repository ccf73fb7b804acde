import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { useTestServer } from "../helpers/server";

/**
 * The installed command: `node bin/klarefi.js`, the CommonJS shim over
 * dist/cli/main.js. Builds dist first when it is missing or older than the
 * sources it runs.
 */

const ROOT = resolve(__dirname, "../..");
const BIN = join(ROOT, "bin/klarefi.js");
const BUILT = join(ROOT, "dist/cli/main.js");
const KEY = "sk_test_cli_bin_secret_0123456789";
const server = useTestServer({ dbPath: ":memory:", apiKeys: [KEY], resetBeforeEach: false });

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function ensureBuilt(): void {
  const sources = Math.max(...["cli", "client", "contract", "server"].map((d) => newestSource(join(ROOT, d))));
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= sources) return;
  // tsc emits even when files elsewhere in the project fail to type-check; the check below is what matters here.
  spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.json")], {
    cwd: ROOT,
    stdio: "ignore",
    timeout: 110_000,
  });
  if (!existsSync(BUILT)) throw new Error("building with tsc did not produce dist/cli/main.js");
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function klarefi(args: string[], env: Record<string, string | undefined>): Promise<Exit> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  ensureBuilt();
});

describe("node bin/klarefi.js", () => {
  it("runs the documentation's smoke test and prints only the signed URL", async () => {
    const result = await klarefi(
      [
        "sessions", "create",
        "--case-type", "motor_claim",
        "--external-case-id", "claim_48392",
        "--external-applicant-id", "applicant_789",
        "--return-url", "https://claims.example.com/claim_48392",
        "--url-only",
      ],
      { KLAREFI_API_KEY: KEY, KLAREFI_BASE_URL: server.url },
    );
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/i\/ses_\w+\?exp=\d+&sig=[0-9a-f]+\n$/);
    const stored = await server.admin.sessions({ external_case_id: "claim_48392" });
    expect(stored.map((s) => s.signed_url)).toContain(result.stdout.trim());
  });

  it("sets the exit code and writes one stderr line on errors, without the key", async () => {
    const notFound = await klarefi(["sessions", "get", "ses_missing"], { KLAREFI_API_KEY: KEY, KLAREFI_BASE_URL: server.url });
    expect(notFound.code).toBe(4);
    expect(notFound.stdout).toBe("");
    expect(notFound.stderr).toMatch(/^klarefi: Retrieving intake session ses_missing failed: 404 .*\(request req_\w+\)\n$/);

    const noKey = await klarefi(["cases", "get", "ses_1"], { KLAREFI_BASE_URL: server.url });
    expect(noKey.code).toBe(3);

    const usage = await klarefi(["sessions", "create", "--api-key", KEY], { KLAREFI_BASE_URL: server.url });
    expect(usage.code).toBe(2);
    for (const r of [notFound, noKey, usage]) expect(r.stdout + r.stderr).not.toContain(KEY);
  });

  it("runs klarefi dev until SIGINT and exits 0", async () => {
    const child = spawn(process.execPath, [BIN, "dev", "--port", "0", "--db", ":memory:"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    onTestFinished(async () => {
      // A failed test must not leave the server running.
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    });
    const ready = new Promise<string>((resolveReady, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (match?.[1] !== undefined) resolveReady(match[1]);
      });
      child.on("close", () => reject(new Error(`klarefi dev exited early: ${stdout}`)));
    });
    const url = await ready;
    const res = await fetch(`${url}/api/v1/sessions/ses_x`, { headers: { authorization: "Bearer sk_test_klarefi_local_0000000000000000" } });
    expect(res.status).toBe(404);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stdout).toContain("Klarefi local server stopped.");
  });
});
