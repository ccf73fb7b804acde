import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { Deployment } from "@pulumi/pulumi/automation";
import { fetch } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixtureDatabase } from "../helpers/fixture-database";
import { builtPackage, klarefiStackConfig, repoRoot, withInlineStack } from "../helpers/pulumi";
import { callsSince, startTestServer, useTestServer } from "../helpers/server";

const klarefi = builtPackage();

const server = useTestServer({ resetBeforeEach: false });

/**
 * Stands in for an older build of the package: its serialized provider text
 * differs from today's, and the state it writes has the older shape (no
 * `request` snapshot, outputs at top level only).
 */
const olderBuildProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    const m: typeof import("../../provider/intake-session") = require("@klarefi/pulumi/intake-session");
    await m.sharedIntakeSessionImpl().connection.configureFrom(req.config);
  },
  async create(inputs) {
    const m: typeof import("../../provider/intake-session") = require("@klarefi/pulumi/intake-session");
    const { id, outs } = await m.sharedIntakeSessionImpl().create(inputs);
    // The older shape: no request snapshot, the request's fields echoed at top level.
    const { request: _dropped, ...olderShape } = outs;
    const echoed = Object.fromEntries(
      ["caseTypeId", "externalCaseId", "externalApplicantId", "returnUrl", "keyScope"].map((name) => [name, inputs[name]]),
    );
    return { id, outs: { ...olderShape, ...echoed, caseId: id, builtBy: "0.0.1" } };
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

/**
 * State written by the first release (commit 733c252) for the program in
 * program/index.js, with the local server's database holding its sessions;
 * made by generate.sh in that folder (see its README.md).
 */
const RELEASE = path.join(repoRoot, "test", "fixtures", "release-733c252");

interface ExportedResource {
  urn: string;
  type: string;
  id?: string;
  outputs?: Record<string, unknown>;
}

/** The path and query of a signed URL, to open it on whatever port the server listens now. */
function linkPart(signedUrl: string): string {
  const url = new URL(signedUrl);
  return `${url.pathname}${url.search}`;
}

describe("state written by the first release", () => {
  it("imports unchanged: preview shows no change and makes no API call, refresh rewrites it in the smaller shape with links still encrypted, and destroy revokes every link the release made", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "klarefi-release-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const releaseServer = await startTestServer({ dbPath: fixtureDatabase(RELEASE, dir) });
    onTestFinished(() => releaseServer.stop());

    const deployment = JSON.parse(readFileSync(path.join(RELEASE, "state.json"), "utf8")) as Deployment;
    const resources = (deployment.deployment as { resources: ExportedResource[] }).resources;
    const sessions = resources.filter((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeSession");
    const ids = sessions.map((r) => String(r.outputs?.sessionId)).sort();
    expect(ids).toHaveLength(4);
    // The release's links are secrets in its state: encrypted, never plaintext.
    for (const r of sessions) expect(Object.keys(r.outputs?.signedUrl as object)).toContain("ciphertext");
    // The server the test started holds the sessions the release created, open.
    expect((await releaseServer.admin.sessions({ status: "open" })).map((s) => s.session_id).sort()).toEqual(ids);

    // Today's package runs the release's program (it loads @klarefi/pulumi by name).
    const programFile = path.join(RELEASE, "program", "index.js");
    const nodeRequire = createRequire(__filename);
    const program = async () => {
      delete nodeRequire.cache[programFile];
      return nodeRequire(programFile) as Record<string, unknown>;
    };
    await withInlineStack(
      {
        projectName: "klarefi-release1",
        stackName: "release1",
        stackSettingsFile: path.join(RELEASE, "Pulumi.release1.yaml"),
        program,
        // The release's stack took its base URL from the environment, so its state names no port.
        env: { KLAREFI_BASE_URL: releaseServer.url },
      },
      async ({ stack, backendDir }) => {
        await stack.importStack(deployment);

        const beforePreview = await releaseServer.admin.apiCalls();
        const preview = await stack.preview();
        expect(preview.changeSummary).toEqual({ same: 6 }); // the stack, the campaign and four sessions
        expect(callsSince(beforePreview, await releaseServer.admin.apiCalls())).toEqual({});

        const outputs = await stack.outputs();
        const links = [
          outputs.signedUrl?.value as string,
          ...Object.values(outputs.links?.value as Record<string, { signedUrl: string }>).map((l) => l.signedUrl),
        ];
        expect(links).toHaveLength(3);
        for (const link of links) expect(link).toMatch(/\/i\/ses_\w+\?exp=\d+&sig=[0-9a-f]+$/);

        // A refresh rewrites the release's outputs in today's smaller shape; the next up changes nothing.
        await stack.refresh();
        const refreshed = ((await stack.exportStack()).deployment as { resources: ExportedResource[] }).resources.filter(
          (r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeSession",
        );
        expect(refreshed.map((r) => r.id).sort()).toEqual(ids);
        for (const r of refreshed) {
          expect(Object.keys(r.outputs ?? {}).sort()).toEqual(["__provider", "args", "expiresAt", "signedUrl", "status"]);
        }
        // (The export above shows secrets in plaintext; the stored checkpoint holds them encrypted.)
        const stored = readFileSync(path.join(backendDir, ".pulumi", "stacks", "klarefi-release1", "release1.json"), "utf8");
        for (const link of links) expect(stored.includes(new URL(link).searchParams.get("sig") ?? "missing"), "signature in plaintext state").toBe(false);
        expect((await stack.up()).summary.resourceChanges).toEqual({ same: 6 });

        const beforeDestroy = await releaseServer.admin.apiCalls();
        const destroyed = await stack.destroy();
        expect(destroyed.summary.resourceChanges?.delete).toBe(6);
        expect(callsSince(beforeDestroy, await releaseServer.admin.apiCalls())).toEqual({ "POST /api/v1/sessions/{id}/revoke 200": 4 });
        const after = await releaseServer.admin.sessions();
        expect(Object.fromEntries(after.map((s) => [s.session_id, s.status]))).toEqual(Object.fromEntries(ids.map((id) => [id, "revoked"])));
        for (const link of links) {
          const page = await fetch(`${releaseServer.url}${linkPart(link)}`);
          expect(page.status).toBe(410);
          await page.text();
        }
      },
    );
  });
});
