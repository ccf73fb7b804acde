import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/pulumi";
import { sdkProgramProject } from "../helpers/sdk-program";
import { callsSince, startTestServer, type TestServer } from "../helpers/server";

// The generated Go SDK (sdk/go) through Pulumi's Go Automation API: a Go
// program (test/fixtures/go-automation) creates a session through the default
// provider and a campaign through an explicit provider, both served by the
// plugin. The program is inline, so no Go language host is needed; it is built
// on the Go module proxy's modules and cached by scripts/setup.sh.

const PROGRAM = path.join(repoRoot, "node_modules", ".klarefi-pulumi", "go-automation");

let server: TestServer;
beforeAll(async () => {
  if (!existsSync(PROGRAM)) {
    throw new Error(`No Go SDK test program at ${PROGRAM}: run scripts/setup.sh, which builds it (Go 1.26+ and the Go module proxy are needed).`);
  }
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

describe("the generated Go SDK through the Go Automation API", () => {
  it("goes up with a session and a campaign, keeps signedUrl secret, previews as a no-op without API calls, and destroy revokes every link", async () => {
    await server.admin.reset({ faults: true });
    const project = sdkProgramProject({ projectName: "klarefi-go", runtime: "go", command: PROGRAM, stackPrefix: "go", server });
    try {
      const up = await project.step("up");
      // The stack, the session, the explicit provider and the campaign.
      expect(up.changes).toEqual({ create: 4 });
      const open = await server.admin.sessions({ status: "open" });
      expect(open.map((s) => [s.external_case_id, s.locale]).sort()).toEqual([
        ["go_claim_48392", "nl"],
        ["go_hail_1", "nl"],
        ["go_hail_2", "fr"],
      ]);
      expect(up.outputs?.sessionId).toEqual({ value: open.find((s) => s.external_case_id === "go_claim_48392")?.session_id });
      expect(up.outputs?.signedUrl).toEqual({ secret: true });
      expect(up.outputs?.summary).toEqual({ value: { total: 2, open: 2, completed: 0, revoked: 0, expired: 0 } });

      const before = await server.admin.apiCalls();
      const preview = await project.step("preview");
      expect(preview.changes).toEqual({ same: 4 });
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

      const destroyed = await project.step("destroy");
      expect(destroyed.changes).toEqual({ delete: 4 });
      expect(await server.admin.sessions({ status: "open" })).toEqual([]);
      expect(await server.admin.sessions({ status: "revoked" })).toHaveLength(3);
    } finally {
      await project.cleanup();
    }
  });
});
