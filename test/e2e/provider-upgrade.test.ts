import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { startTestServer, type TestServer } from "../helpers/server";

const klarefi = builtPackage();

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

/**
 * Stands in for an older build of the package: its serialized provider text
 * differs from today's, and the state it writes has the older shape (no
 * `request` snapshot, outputs at top level only).
 */
const olderBuildProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    const m: typeof import("../../provider/intake-session") = require("@klarefi/pulumi/intake-session");
    await m.sharedIntakeSessionImpl().configureFrom(req.config);
  },
  async create(inputs) {
    const m: typeof import("../../provider/intake-session") = require("@klarefi/pulumi/intake-session");
    const { id, outs } = await m.sharedIntakeSessionImpl().create(inputs);
    const { request: _dropped, ...olderShape } = outs;
    return { id, outs: { ...olderShape, builtBy: "0.0.1" } };
  },
  async delete(id) {
    const m: typeof import("../../provider/intake-session") = require("@klarefi/pulumi/intake-session");
    return m.sharedIntakeSessionImpl().delete(id);
  },
};

const args = {
  caseTypeId: "motor_claim",
  externalCaseId: "claim_upgrade",
  externalApplicantId: "applicant_upgrade",
  returnUrl: "https://claims.example.com/claim_upgrade",
};

describe("upgrading the provider under live links", () => {
  it("keeps the session and its outputs when the installed build changes, and destroy still revokes it", async () => {
    let build: "older" | "current" = "older";
    const program = async () => {
      const s =
        build === "older"
          ? new (class extends pulumi.dynamic.Resource {
              declare readonly sessionId: pulumi.Output<string>;
              declare readonly signedUrl: pulumi.Output<string>;
              constructor() {
                super(
                  olderBuildProvider,
                  "claim-upgrade",
                  { ...args, keyScope: `${pulumi.getProject()}/${pulumi.getStack()}/claim-upgrade`, sessionId: undefined, signedUrl: undefined },
                  { additionalSecretOutputs: ["signedUrl"] },
                  "klarefi",
                  "IntakeSession",
                );
              }
            })()
          : new klarefi.IntakeSession("claim-upgrade", args);
      return { sessionId: s.sessionId, signedUrl: s.signedUrl };
    };
    const config = klarefiStackConfig(server);
    await withInlineStack({ projectName: "klarefi-upgrade", program, config }, async ({ stack }) => {
      const first = await stack.up();
      const sessionId = first.outputs.sessionId?.value as string;
      const signedUrl = first.outputs.signedUrl?.value as string;
      expect(sessionId).toMatch(/^ses_/);

      build = "current";
      const preview = await stack.preview();
      expect(preview.changeSummary).toEqual({ same: 2 });
      const upgraded = await stack.up();
      expect(upgraded.summary.resourceChanges).toEqual({ same: 2 });
      expect(upgraded.outputs.sessionId?.value).toBe(sessionId);
      expect(upgraded.outputs.signedUrl?.value).toBe(signedUrl);
      expect((await server.admin.sessions({ status: "open" })).map((s) => s.session_id)).toEqual([sessionId]);

      const destroyed = await stack.destroy();
      expect(destroyed.summary.resourceChanges?.delete).toBe(2);
      expect((await server.admin.sessions()).find((s) => s.session_id === sessionId)?.status).toBe("revoked");
    });
  });
});
