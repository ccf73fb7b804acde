import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offlinePulumiEnv, randomStackName, repoRoot } from "../helpers/pulumi";
import { startTestServer, type TestServer } from "../helpers/server";

// These tests drive the `pulumi` CLI on a program folder, so that a run can be
// killed the hard way (SIGKILL to the CLI and every plugin it started).

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

const PROGRAM = `
const klarefi = require("@klarefi/pulumi");
const count = Number(process.env.KLAREFI_TEST_SESSIONS ?? "1");
const ids = {};
for (let i = 1; i <= count; i++) {
  const s = new klarefi.IntakeSession("claim-" + i, {
    caseTypeId: "hail_damage",
    externalCaseId: "storm_" + i,
    externalApplicantId: "applicant_" + i,
  });
  ids["storm_" + i] = s.sessionId;
}
exports.ids = ids;
`;

interface CliProject {
  dir: string;
  env: NodeJS.ProcessEnv;
  stack: string;
  backendDir: string;
  pulumi(args: string[], extraEnv?: Record<string, string>): Promise<{ status: number | null; output: string }>;
  cleanup(): Promise<void>;
}

function cliProject(sessions: number): CliProject {
  const base = path.join(repoRoot, ".klarefi", "tmp");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, "cli-"));
  const backendDir = mkdtempSync(path.join(tmpdir(), "klarefi-backend-"));
  const home = path.join(dir, ".home");
  mkdirSync(home);
  writeFileSync(path.join(dir, "Pulumi.yaml"), "name: klarefi-reliability\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "klarefi-reliability", private: true, main: "index.js" }));
  writeFileSync(path.join(dir, "index.js"), PROGRAM);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...offlinePulumiEnv(backendDir, home),
    KLAREFI_TEST_SESSIONS: String(sessions),
    PATH: `${path.join(repoRoot, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
  };
  const stack = randomStackName("rel");
  // Asynchronous on purpose: the Klarefi server runs in this process and must keep answering.
  const pulumi = (args: string[], extraEnv: Record<string, string> = {}) =>
    new Promise<{ status: number | null; output: string }>((resolve) => {
      execFile(
        "pulumi",
        [...args, "--non-interactive", "--stack", stack],
        { cwd: dir, env: { ...env, ...extraEnv }, encoding: "utf8", timeout: 180_000, maxBuffer: 32 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error && typeof error.code === "number" ? error.code : error ? -1 : 0;
          resolve({ status: code, output: `${stdout}\n${stderr}` });
        },
      );
    });
  return {
    dir,
    env,
    stack,
    backendDir,
    pulumi,
    async cleanup() {
      await pulumi(["destroy", "--yes", "--skip-preview"]);
      await pulumi(["stack", "rm", "--yes", "--force"]);
      rmSync(dir, { recursive: true, force: true });
      rmSync(backendDir, { recursive: true, force: true });
    },
  };
}

function expectOk(result: { status: number | null; output: string }) {
  if (result.status !== 0) throw new Error(`pulumi failed (${result.status}):\n${result.output.slice(-3000)}`);
}

/**
 * SIGKILLs every process whose environment holds `marker`. The CLI starts its
 * plugins in process groups of their own, so killing the CLI's group leaves
 * them behind, as a crash would; the test must not.
 */
function killProcessesWithEnv(marker: string): number {
  let killed = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, "latin1").includes(marker)) {
        process.kill(Number(pid), "SIGKILL");
        killed += 1;
      }
    } catch {
      // The process ended meanwhile, or is not ours to read.
    }
  }
  return killed;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 600 && Date.now() < deadline; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
}

describe("reliability of provisioning runs", () => {
  it("never leaves two open sessions for one resource when a pulumi up is killed mid-create and run again", async () => {
    await server.admin.reset({ faults: true });
    const project = cliProject(1);
    try {
      expectOk(await project.pulumi(["stack", "init"]));
      expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
      expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
      // Every answer to a create is lost after the commit, so the provider is
      // still retrying when the whole process group is killed.
      await server.admin.setFaults({ seed: 3, commitThenDrop: 1 });
      const run = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", project.stack], {
        cwd: project.dir,
        env: project.env,
        detached: true,
        stdio: "ignore",
      });
      const exited = new Promise((resolve) => run.on("exit", resolve));
      const committed = await waitFor("the session to be committed", async () => {
        const open = await server.admin.sessions({ external_case_id: "storm_1" });
        return open.length > 0 ? open : undefined;
      });
      expect(committed).toHaveLength(1);
      process.kill(-(run.pid ?? 0), "SIGKILL");
      await exited;
      killProcessesWithEnv(`PULUMI_HOME=${project.env.PULUMI_HOME}`);
      await server.admin.setFaults({ commitThenDrop: 0 });

      // A killed CLI leaves its lock on the file backend; clearing it is the documented recovery.
      const locks = path.join(project.backendDir, ".pulumi", "locks");
      expect(readdirSync(locks, { recursive: true }).some((f) => String(f).endsWith(".json"))).toBe(true);
      rmSync(locks, { recursive: true, force: true });

      const again = await project.pulumi(["up", "--yes", "--skip-preview"]);
      expectOk(again);
      const open = await server.admin.sessions({ external_case_id: "storm_1", status: "open" });
      expect(open.map((s) => s.session_id)).toEqual(committed.map((s) => s.session_id));
      const outputs = await project.pulumi(["stack", "output", "ids", "--json"]);
      expectOk(outputs);
      expect(JSON.parse(outputs.output.trim().split("\n\n")[0] ?? "{}")).toEqual({ storm_1: committed[0]?.session_id });
    } finally {
      await server.admin.setFaults({ commitThenDrop: 0 });
      await project.cleanup();
    }
  });

  it("provisions 40 links with --parallel 64 through a storm of 429s without exceeding the concurrency cap", async () => {
    await server.admin.reset({ faults: true });
    const project = cliProject(40);
    try {
      expectOk(await project.pulumi(["stack", "init"]));
      expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
      expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
      expectOk(await project.pulumi(["config", "set", "klarefi:maxConcurrentRequests", "4"]));
      await server.admin.setFaults({ seed: 5, rate429: 0.3, retryAfterSeconds: 0, latencyMs: 20 });
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview", "--parallel", "64"]));
      await server.admin.setFaults({ rate429: 0, latencyMs: 0 });

      const open = await server.admin.sessions({ status: "open", case_type_id: "hail_damage" });
      expect(open).toHaveLength(40);
      const counters = await server.admin.counters();
      const creates = counters.filter((c) => c.route === "POST /api/v1/sessions");
      expect(creates.find((c) => c.status === 429)?.count ?? 0).toBeGreaterThan(0);
      expect(creates.find((c) => c.status === 201)?.count).toBe(40);
      const peak = await server.admin.peakInFlight();
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(4);

      expectOk(await project.pulumi(["destroy", "--yes", "--skip-preview", "--parallel", "64"]));
      expect(await server.admin.sessions({ status: "open", case_type_id: "hail_damage" })).toEqual([]);
    } finally {
      await project.cleanup();
    }
  });
});
