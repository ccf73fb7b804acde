import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pluginSection } from "../helpers/plugin-project";
import { offlinePulumiEnv, randomStackName, repoRoot } from "../helpers/pulumi";
import { callsSince, startTestServer, type TestServer } from "../helpers/server";

// The generated Python SDK (sdk/python) through Pulumi's Python Automation
// API: a Python program (test/fixtures/plugin-python/stack.py) creates a
// session through the default provider and a campaign through an explicit
// provider, both served by the plugin. The Python environment (pulumi from
// PyPI plus sdk/python) is made and cached by scripts/setup.sh.

const PYTHON = path.join(repoRoot, "node_modules", ".klarefi-pulumi", "python", "bin", "python");
const SCRIPT = path.join(repoRoot, "test", "fixtures", "plugin-python", "stack.py");

let server: TestServer;
beforeAll(async () => {
  if (!existsSync(PYTHON)) {
    throw new Error(`No Python environment at ${PYTHON}: run scripts/setup.sh, which makes it (Python 3.9+ and PyPI are needed).`);
  }
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

interface StepResult {
  changes: Record<string, number>;
  outputs?: Record<string, { value?: unknown; secret?: true }>;
}

/** A scratch Python project: its Pulumi.yaml, backend and PULUMI_HOME, and a runner for the script's steps. */
function pythonProject() {
  const base = path.join(repoRoot, ".klarefi", "tmp");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, "py-"));
  const backendDir = mkdtempSync(path.join(tmpdir(), "klarefi-backend-"));
  const home = path.join(dir, ".home");
  mkdirSync(home);
  writeFileSync(path.join(dir, "Pulumi.yaml"), `name: klarefi-python\nruntime: python\nbackend:\n  url: file://${backendDir}\n${pluginSection()}`);
  // The CSV of the program's campaign from a file asset; the second row's locale goes out as nl.
  writeFileSync(path.join(dir, "applicants.csv"), "external_case_id,external_applicant_id,locale\npy_storm_1,py_applicant_s1,\npy_storm_2,py_applicant_s2,NL\n");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...offlinePulumiEnv(backendDir, home),
    // The Automation API finds `pulumi` on PATH; the plugin's `node` is the project's Node.js 24.
    PATH: `${path.join(repoRoot, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    KLAREFI_TEST_WORK_DIR: dir,
    KLAREFI_TEST_STACK: randomStackName("py"),
    KLAREFI_TEST_API_KEY: server.apiKey,
    KLAREFI_TEST_BASE_URL: server.url,
  };
  const step = (name: "up" | "preview" | "destroy" | "remove") =>
    new Promise<StepResult>((resolve, reject) => {
      execFile(PYTHON, [SCRIPT, name], { cwd: dir, env, encoding: "utf8", timeout: 120_000, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) return reject(new Error(`stack.py ${name} failed (${error.code}):\n${stderr.slice(-3000)}`));
        const last = stdout.trim().split("\n").pop() ?? "";
        resolve(JSON.parse(last) as StepResult);
      });
    });
  return {
    step,
    async cleanup() {
      await step("remove").catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      rmSync(backendDir, { recursive: true, force: true });
    },
  };
}

describe("the generated Python SDK through the Python Automation API", () => {
  it("goes up through the default and an explicit provider, with a campaign from a CSV file asset, previews as a no-op without API calls, and destroy revokes every link", async () => {
    await server.admin.reset({ faults: true });
    const project = pythonProject();
    try {
      const up = await project.step("up");
      // The stack, the session, the explicit provider and the two campaigns.
      expect(up.changes).toEqual({ create: 5 });
      const open = await server.admin.sessions({ status: "open" });
      expect(open.map((s) => [s.external_case_id, s.locale]).sort()).toEqual([
        ["py_claim_48392", "nl"],
        ["py_hail_1", "nl"],
        ["py_hail_2", "fr"],
        ["py_storm_1", null],
        ["py_storm_2", "nl"],
      ]);
      expect(up.outputs?.sessionId).toEqual({ value: open.find((s) => s.external_case_id === "py_claim_48392")?.session_id });
      expect(up.outputs?.signedUrl).toEqual({ secret: true });
      expect(up.outputs?.summary).toEqual({ value: { total: 2, open: 2, completed: 0, revoked: 0, expired: 0 } });
      expect(up.outputs?.stormSummary).toEqual({ value: { total: 2, open: 2, completed: 0, revoked: 0, expired: 0 } });

      const before = await server.admin.apiCalls();
      const preview = await project.step("preview");
      expect(preview.changes).toEqual({ same: 5 });
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

      const destroyed = await project.step("destroy");
      expect(destroyed.changes).toEqual({ delete: 5 });
      expect(await server.admin.sessions({ status: "open" })).toEqual([]);
      expect(await server.admin.sessions({ status: "revoked" })).toHaveLength(5);
    } finally {
      await project.cleanup();
    }
  });
});
