import { existsSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/pulumi";
import { sdkProgramProject } from "../helpers/sdk-program";
import { callsSince, useTestServer } from "../helpers/server";

// The generated Python SDK (sdk/python) through Pulumi's Python Automation
// API: a Python program (test/fixtures/plugin-python/stack.py) creates a
// session through the default provider and a campaign through an explicit
// provider, both served by the plugin. The Python environment (pulumi from
// PyPI plus sdk/python) is made and cached by scripts/setup.sh (--with python, part of --for test).

const PYTHON = path.join(repoRoot, "node_modules", ".klarefi-pulumi", "python", "bin", "python");
const SCRIPT = path.join(repoRoot, "test", "fixtures", "plugin-python", "stack.py");

const server = useTestServer({ resetBeforeEach: false });
beforeAll(async () => {
  if (!existsSync(PYTHON)) {
    throw new Error(`No Python environment at ${PYTHON}: run bash scripts/setup.sh --with python (npm test does it; Python 3.9+ and PyPI are needed).`);
  }
});

describe("the generated Python SDK through the Python Automation API", () => {
  it("goes up through the default and an explicit provider, with a campaign from a CSV file asset, previews as a no-op without API calls, and destroy revokes every link", async () => {
    await server.admin.reset({ faults: true });
    const project = sdkProgramProject({
      projectName: "klarefi-python",
      runtime: "python",
      command: PYTHON,
      args: [SCRIPT],
      stackPrefix: "py",
      server,
      // The CSV of the program's campaign from a file asset; the second row's locale goes out as nl.
      files: { "applicants.csv": "external_case_id,external_applicant_id,locale\npy_storm_1,py_applicant_s1,\npy_storm_2,py_applicant_s2,NL\n" },
    });
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
