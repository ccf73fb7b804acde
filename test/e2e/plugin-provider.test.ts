import { describe, expect, it } from "vitest";
import { clearFileBackendLocks, expectOk, startKillableUp } from "../helpers/cli-project";
import { exportedState, initStack, klarefiCli, pluginSessionsProject, resourceNamed } from "../helpers/plugin-project";
import { callsSince, useTestServer } from "../helpers/server";
import { waitFor } from "../helpers/wait";

// The provider plugin `pulumi-resource-klarefi` through the real engine and
// CLI, driven by a Node.js program that registers `klarefi:index:IntakeSession`
// by type token, as any generated SDK does (YAML and Python: plugin-yaml and
// plugin-python tests). The engine starts the plugin from bin/ (Pulumi.yaml's
// `plugins.providers`), which runs the dynamic provider's implementation.

const SESSION = "klarefi:index:IntakeSession";

const server = useTestServer({ resetBeforeEach: false });

const claim = (n: number, extra: Record<string, string> = {}) => ({
  caseTypeId: "motor_claim",
  externalCaseId: `plugin_claim_${n}`,
  externalApplicantId: `plugin_applicant_${n}`,
  returnUrl: `https://claims.example.com/plugin_claim_${n}`,
  locale: "nl",
  ...extra,
});

async function openSessions(externalCaseId: string) {
  return server.admin.sessions({ external_case_id: externalCaseId, status: "open" });
}

describe("the provider plugin through the engine", () => {
  it("creates, previews with no API call, refuses then replaces on request, moves expiry in place, refreshes drift and revokes on destroy", async () => {
    await server.admin.reset({ faults: true });
    const project = pluginSessionsProject("klarefi-plugin");
    try {
      await initStack(project, server);
      project.setSessions({ a: claim(1), b: claim(2) });
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));
      const [openA] = await openSessions("plugin_claim_1");
      const [openB] = await openSessions("plugin_claim_2");
      expect(openA?.locale).toBe("nl");
      let state = await exportedState(project);
      expect(resourceNamed(state.resources, SESSION, "a").id).toBe(openA?.session_id);
      // Secrets: the signed URL and the API key are only ciphertext in state.
      expect(state.text).not.toContain(openA?.signed_url);
      expect(state.text).not.toContain(server.apiKey);
      expect(JSON.stringify(resourceNamed(state.resources, SESSION, "a").outputs?.signedUrl)).toContain("ciphertext");
      // The plugin derives the key scope from the URN, as the TypeScript resource does from project/stack/name.
      expect(resourceNamed(state.resources, SESSION, "a").inputs?.keyScope).toBe(`klarefi-plugin/${project.stack}/a`);

      // A no-op preview: no change and not one API call.
      let before = await server.admin.apiCalls();
      expectOk(await project.pulumi(["preview", "--expect-no-changes"]));
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

      // A field that needs a new link is refused before any API call without reissue: "allow".
      project.setSessions({ a: claim(1, { locale: "fr" }), b: claim(2) });
      before = await server.admin.apiCalls();
      const refused = await project.pulumi(["preview"]);
      expect(refused.status).not.toBe(0);
      expect(refused.output).toMatch(/reissue/);
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

      // With it, the session is replaced: new link first, then the old one revoked.
      project.setSessions({ a: claim(1, { locale: "fr", reissue: "allow" }), b: claim(2) });
      const replaced = await project.pulumi(["up", "--yes", "--skip-preview"]);
      expectOk(replaced);
      expect(replaced.output).toMatch(/1 replaced/);
      const [newA] = await openSessions("plugin_claim_1");
      expect(newA?.locale).toBe("fr");
      expect(newA?.session_id).not.toBe(openA?.session_id);
      expect((await server.admin.sessions({ external_case_id: "plugin_claim_1", status: "revoked" })).map((s) => s.session_id)).toEqual([
        openA?.session_id,
      ]);

      // A new expiresAt is an in-place update: same session, same link, one PATCH.
      const expiresAt = new Date(Date.now() + 20 * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
      project.setSessions({ a: claim(1, { locale: "fr", reissue: "allow" }), b: claim(2, { expiresAt }) });
      before = await server.admin.apiCalls();
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "PATCH /api/v1/sessions/{id} 200": 1 });
      const [movedB] = await openSessions("plugin_claim_2");
      expect(movedB?.session_id).toBe(openB?.session_id);
      expect(movedB?.expires_at).toBe(expiresAt);

      // Revoked outside Pulumi: refresh records it.
      const revoke = await server.api(`/api/v1/sessions/${newA?.session_id}/revoke`, { method: "POST" });
      expect(revoke.status).toBe(200);
      expectOk(await project.pulumi(["refresh", "--yes", "--skip-preview"]));
      state = await exportedState(project);
      expect(resourceNamed(state.resources, SESSION, "a").outputs?.status).toBe("revoked");
      expect(resourceNamed(state.resources, SESSION, "b").outputs?.status).toBe("open");

      // Destroy revokes the link still open.
      expectOk(await project.pulumi(["destroy", "--yes", "--skip-preview"]));
      const allB = await server.admin.sessions({ external_case_id: "plugin_claim_2" });
      expect(allB.map((s) => [s.session_id, s.status])).toEqual([[openB?.session_id, "revoked"]]);
    } finally {
      await project.cleanup();
    }
  });

  it("imports a session made with `klarefi sessions create`, after which the program declaring it shows no change and destroy revokes it", async () => {
    await server.admin.reset({ faults: true });
    const created = JSON.parse(
      await klarefiCli(
        [
          "sessions",
          "create",
          "--case-type",
          "motor_claim",
          "--external-case-id",
          "imported_claim_1",
          "--external-applicant-id",
          "imported_applicant_1",
          "--locale",
          "de",
          "--return-url",
          "https://claims.example.com/imported_claim_1",
          "--json",
        ],
        server,
      ),
    ) as { session_id: string; idempotency_key: string };
    const project = pluginSessionsProject("klarefi-plugin-import");
    try {
      await initStack(project, server);
      const imported = await project.pulumi(["import", SESSION, "adopted", created.session_id, "--yes", "--protect=false", "--generate-code=false"]);
      expectOk(imported);
      expect(imported.output).toMatch(/1 imported/);
      const state = await exportedState(project);
      const adopted = resourceNamed(state.resources, SESSION, "adopted");
      expect(adopted.id).toBe(created.session_id);
      expect(adopted.inputs).toMatchObject({
        caseTypeId: "motor_claim",
        externalCaseId: "imported_claim_1",
        externalApplicantId: "imported_applicant_1",
        locale: "de",
        returnUrl: "https://claims.example.com/imported_claim_1",
      });
      expect(adopted.outputs?.idempotencyKey).toBe(created.idempotency_key);
      expect(JSON.stringify(adopted.outputs?.signedUrl)).toContain("ciphertext");
      expect(state.text).not.toContain(server.apiKey);
      expect(JSON.stringify(resourceNamed(state.resources, "pulumi:providers:klarefi", "default").inputs?.apiKey)).toContain("ciphertext");

      // The program that declares the session as it is: no change, no API call, on preview and on up.
      project.setSessions({
        adopted: {
          caseTypeId: "motor_claim",
          externalCaseId: "imported_claim_1",
          externalApplicantId: "imported_applicant_1",
          locale: "de",
          returnUrl: "https://claims.example.com/imported_claim_1",
        },
      });
      const before = await server.admin.apiCalls();
      expectOk(await project.pulumi(["preview", "--expect-no-changes"]));
      const up = await project.pulumi(["up", "--yes", "--skip-preview"]);
      expectOk(up);
      expect(up.output).toMatch(/Resources:\s+2 unchanged\s/);
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
      expect((await openSessions("imported_claim_1")).map((s) => s.session_id)).toEqual([created.session_id]);

      expectOk(await project.pulumi(["destroy", "--yes", "--skip-preview"]));
      expect(await openSessions("imported_claim_1")).toEqual([]);
    } finally {
      await project.cleanup();
    }
  });

  it("refuses to import a session that is no longer open, naming its status", async () => {
    await server.admin.reset({ faults: true });
    const created = JSON.parse(
      await klarefiCli(
        ["sessions", "create", "--case-type", "motor_claim", "--external-case-id", "gone_claim", "--external-applicant-id", "gone_applicant", "--json"],
        server,
      ),
    ) as { session_id: string };
    await klarefiCli(["sessions", "revoke", created.session_id], server);
    const project = pluginSessionsProject("klarefi-plugin-import-revoked");
    try {
      await initStack(project, server);
      const refused = await project.pulumi(["import", SESSION, "gone", created.session_id, "--yes", "--generate-code=false"]);
      expect(refused.status).not.toBe(0);
      expect(refused.output).toContain(`Cannot import intake session ${created.session_id}: it is revoked`);
    } finally {
      await project.cleanup();
    }
  });

  it("refuses an API key kept in plaintext stack config, on up and on import, so that it never reaches the state", async () => {
    await server.admin.reset({ faults: true });
    const created = JSON.parse(
      await klarefiCli(
        ["sessions", "create", "--case-type", "motor_claim", "--external-case-id", "plain_claim", "--external-applicant-id", "plain_applicant", "--json"],
        server,
      ),
    ) as { session_id: string };
    const project = pluginSessionsProject("klarefi-plugin-plaintext");
    try {
      await initStack(project, server, { plaintextKey: true });
      project.setSessions({ a: claim(7) });
      const before = await server.admin.apiCalls();
      const up = await project.pulumi(["up", "--yes", "--skip-preview"]);
      expect(up.status).not.toBe(0);
      expect(up.output).toContain("The Klarefi API key reached the provider in plaintext");
      expect(up.output).toContain(`pulumi config set --secret klarefi:apiKey <your API key> --stack ${project.stack}`);
      // `pulumi import` stores the provider's config as it is, without CheckConfig: refused too.
      const imported = await project.pulumi(["import", SESSION, "adopted", created.session_id, "--yes", "--generate-code=false"]);
      expect(imported.status).not.toBe(0);
      expect(imported.output).toContain("The Klarefi API key reached the provider in plaintext");
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
      expect((await exportedState(project)).text).not.toContain(server.apiKey);
    } finally {
      await project.cleanup();
    }
  });

  it("never leaves two open sessions for one resource when a pulumi up through the plugin is SIGKILLed mid-create and run again", async () => {
    await server.admin.reset({ faults: true });
    const project = pluginSessionsProject("klarefi-plugin-kill");
    try {
      await initStack(project, server);
      project.setSessions({ storm: { caseTypeId: "hail_damage", externalCaseId: "plugin_storm_1", externalApplicantId: "plugin_applicant_1" } });
      // Every answer to a create is lost after the commit, so the plugin is still retrying when everything is killed.
      await server.admin.setFaults({ seed: 3, commitThenDrop: 1 });
      const run = startKillableUp(project);
      const committed = await waitFor(
        "the session to be committed",
        async () => {
          const open = await openSessions("plugin_storm_1");
          return open.length > 0 ? open : undefined;
        },
        { tries: 600, intervalMs: 100, timeoutMs: 60_000 },
      );
      await run.killHard();
      await server.admin.setFaults({ commitThenDrop: 0 });
      expect(clearFileBackendLocks(project.backendDir)).toBe(true);

      expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));
      const open = await openSessions("plugin_storm_1");
      expect(committed).toHaveLength(1);
      expect(open.map((s) => s.session_id)).toEqual(committed.map((s) => s.session_id));
      const state = await exportedState(project);
      expect(resourceNamed(state.resources, SESSION, "storm").id).toBe(committed[0]?.session_id);
    } finally {
      await server.admin.setFaults({ commitThenDrop: 0 });
      await project.cleanup();
    }
  });
});
