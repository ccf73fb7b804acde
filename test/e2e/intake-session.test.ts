import { readFileSync } from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import { type ApiCalls, callsSince, useTestServer } from "../helpers/server";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";

const klarefi = builtPackage();

/** The stack's checkpoint as the file backend stores it: secrets still encrypted. */
function rawStateFile(backendDir: string, project: string, stack: string): string {
  return readFileSync(path.join(backendDir, ".pulumi", "stacks", project, `${stack}.json`), "utf8");
}

/** Each IntakeSession's id and outputs in the stack's state, by resource name. */
async function sessionStates(stack: Stack): Promise<Record<string, { id?: string; outputs: Record<string, unknown> }>> {
  const deployment = (await stack.exportStack()).deployment as {
    resources?: { urn: string; type: string; id?: string; outputs?: Record<string, unknown> }[];
  };
  return Object.fromEntries(
    (deployment.resources ?? [])
      .filter((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeSession")
      .map((r) => [r.urn.split("::").pop() ?? r.urn, { id: r.id, outputs: r.outputs ?? {} }]),
  );
}

const server = useTestServer({ resetBeforeEach: false });

const config = () => klarefiStackConfig(server);

const CREATE = "POST /api/v1/sessions";
const READ = "GET /api/v1/sessions/{id}";
const REVOKE = "POST /api/v1/sessions/{id}/revoke";

/** Runs `action` and answers the `/api/v1` calls the server served meanwhile (`{}`: none), and what the action gave or threw. */
async function callsDuring<T>(action: () => Promise<T>): Promise<{ calls: ApiCalls; result?: T; error?: unknown }> {
  const before = await server.admin.apiCalls();
  let outcome: { result?: T; error?: unknown };
  try {
    outcome = { result: await action() };
  } catch (error) {
    outcome = { error };
  }
  return { calls: callsSince(before, await server.admin.apiCalls()), ...outcome };
}

/** One session per case id, with an optional `rotation` and `expiresAt` for every one of them. */
function sessionsProgram(caseIds: () => string[], extra: () => { rotation?: string; expiresAt?: string } = () => ({})) {
  return async () => {
    const out: Record<string, pulumi.Output<string>> = {};
    for (const caseId of caseIds()) {
      const s = new klarefi.IntakeSession(`count-${caseId}`, {
        caseTypeId: "travel_claim",
        externalCaseId: caseId,
        externalApplicantId: `applicant-${caseId}`,
        ...extra(),
      });
      out[caseId] = s.sessionId;
    }
    return out;
  };
}

interface Row {
  caseId: string;
  locale: string;
}

/** A program with one session per row; `twin` adds a second resource with the first row's inputs. */
function programFor(rows: () => Row[], opts: { twin?: boolean } = {}) {
  return async () => {
    const out: Record<string, pulumi.Output<string>> = {};
    for (const row of rows()) {
      const s = new klarefi.IntakeSession(`claim-${row.caseId}`, {
        caseTypeId: "motor_claim",
        externalCaseId: row.caseId,
        externalApplicantId: `applicant-${row.caseId}`,
        returnUrl: `https://claims.example.com/${row.caseId}`,
        locale: row.locale,
        reissue: "allow", // the lifecycle test replaces a live link on purpose
      });
      out[`${row.caseId}_id`] = s.sessionId;
      out[`${row.caseId}_url`] = s.signedUrl;
      out[`${row.caseId}_status`] = s.status;
    }
    // The twin starts with the first row's inputs and keeps them.
    const first = { caseId: "c1", locale: "nl" };
    if (opts.twin) {
      const twin = new klarefi.IntakeSession(`twin-${first.caseId}`, {
        caseTypeId: "motor_claim",
        externalCaseId: first.caseId,
        externalApplicantId: `applicant-${first.caseId}`,
        returnUrl: `https://claims.example.com/${first.caseId}`,
        locale: first.locale,
      });
      out.twin_id = twin.sessionId;
    }
    return out;
  };
}

describe("IntakeSession through the real engine", () => {
  it("lives through up, no-op preview, replacement, drift, destroy and re-creation with the server agreeing at every step", async () => {
    let rows: Row[] = [
      { caseId: "c1", locale: "nl" },
      { caseId: "c2", locale: "nl" },
    ];
    await withInlineStack({ projectName: "klarefi-e2e", program: programFor(() => rows, { twin: true }), config: config() }, async ({ stack, stackName, backendDir }) => {
      // up: sessions exist and are open on the server
      const up = await stack.up();
      expect(up.summary.result).toBe("succeeded");
      const id1 = up.outputs.c1_id?.value as string;
      const id2 = up.outputs.c2_id?.value as string;
      const twin = up.outputs.twin_id?.value as string;
      expect(new Set([id1, id2, twin]).size).toBe(3); // identical inputs in one stack still get their own session
      expect(up.outputs.c1_url?.secret).toBe(true);
      const open = await server.admin.sessions({ status: "open" });
      expect(open.map((s) => s.session_id).sort()).toEqual([id1, id2, twin].sort());

      // the state file holds the signed URL only encrypted, and the API key nowhere in plaintext
      const state = rawStateFile(backendDir, "klarefi-e2e", stackName);
      for (const s of open) {
        const sig = new URL(s.signed_url).searchParams.get("sig");
        expect(sig).toBeTruthy();
        expect(state.includes(sig ?? "missing"), "signature in plaintext state").toBe(false);
      }
      expect(state.includes(server.apiKey), "API key in plaintext state").toBe(false);
      expect(state).toContain("ciphertext");

      // the serialized provider is tiny, loads the installed code by package name, and holds no secret
      const deployment = (await stack.exportStack()).deployment as {
        resources: { type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown>; propertyDependencies?: Record<string, unknown> }[];
      };
      const sessionState = deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeSession");
      const providerText = String(sessionState?.inputs?.__provider ?? "");
      expect(providerText).toBe('exports.handler = () => require("@klarefi/pulumi/intake-session").intakeSessionProvider;\n');
      expect(sessionState?.outputs?.__provider).toBe(providerText);
      expect(providerText.length).toBeLessThan(200);
      // and each session stores its arguments as one property, beside a small set of outputs (stored.ts)
      expect(Object.keys(sessionState?.inputs ?? {}).sort()).toEqual(["__provider", "args"]);
      expect(Object.keys(sessionState?.propertyDependencies ?? {}).sort()).toEqual(["__provider", "args"]);
      expect(Object.keys(sessionState?.outputs ?? {}).sort()).toEqual(["__provider", "args", "expiresAt", "signedUrl", "status"]);

      // a second preview shows no changes
      const preview = await stack.preview();
      expect(preview.changeSummary).toEqual({ same: 4 }); // the stack and three sessions

      // changing locale replaces: a new open session, the old one revoked
      rows = [{ caseId: "c1", locale: "fr" }, rows[1] as Row];
      const replaced = await stack.up();
      expect(replaced.summary.resourceChanges?.replace).toBe(1);
      const newId1 = replaced.outputs.c1_id?.value as string;
      expect(newId1).not.toBe(id1);
      expect(replaced.outputs.c2_id?.value).toBe(id2);
      const after = await server.admin.sessions();
      const status = (id: string) => after.find((s) => s.session_id === id)?.status;
      expect(status(id1)).toBe("revoked");
      expect(status(newId1)).toBe("open");
      expect(after.find((s) => s.session_id === newId1)?.locale).toBe("fr");

      // refresh after an out-of-band revoke shows the drift
      const revoked = await server.api(`/api/v1/sessions/${id2}/revoke`, { method: "POST" });
      expect(revoked.status).toBe(200);
      const refresh = await stack.refresh();
      expect(refresh.summary.result).toBe("succeeded");
      const refreshed = await sessionStates(stack);
      expect(refreshed["claim-c2"]?.outputs.status).toBe("revoked");
      expect(refreshed["claim-c1"]?.outputs.status).toBe("open");

      // destroy revokes every session on the server
      await stack.destroy();
      expect(await server.admin.sessions({ status: "open" })).toEqual([]);

      // up again with the same inputs: new open links, not the revoked ones
      const again = await stack.up();
      const ids = [again.outputs.c1_id?.value, again.outputs.c2_id?.value, again.outputs.twin_id?.value] as string[];
      expect(ids).not.toContain(newId1);
      expect(ids).not.toContain(id2);
      expect(ids).not.toContain(twin);
      const reopened = await server.admin.sessions({ status: "open" });
      expect(reopened.map((s) => s.session_id).sort()).toEqual([...ids].sort());

      await stack.destroy();
      expect(await server.admin.sessions({ status: "open" })).toEqual([]);
    });
  });

  it("makes one create per link on up, one read per link on refresh, one revoke per link on destroy, and no call on a no-change preview or a failed check", async () => {
    let caseIds = ["n1", "n2", "n3"];
    let extra: { expiresAt?: string } = {};
    const program = sessionsProgram(() => caseIds, () => extra);
    await withInlineStack({ projectName: "klarefi-calls", program, config: config() }, async ({ stack }) => {
      const up = await callsDuring(() => stack.up());
      expect(up.error).toBeUndefined();
      expect(up.calls).toEqual({ [`${CREATE} 201`]: 3 });

      const preview = await callsDuring(() => stack.preview());
      expect(preview.result?.changeSummary).toEqual({ same: 4 });
      expect(preview.calls).toEqual({});

      const refresh = await callsDuring(() => stack.refresh());
      expect(refresh.result?.summary.result).toBe("succeeded");
      expect(refresh.calls).toEqual({ [`${READ} 200`]: 3 });

      const destroy = await callsDuring(() => stack.destroy());
      expect(destroy.result?.summary.resourceChanges?.delete).toBe(4);
      expect(destroy.calls).toEqual({ [`${REVOKE} 200`]: 3 });
      expect(await server.admin.sessions({ status: "open", case_type_id: "travel_claim" })).toEqual([]);

      // One input the check refuses (an expiry in the past, which only the API would also refuse):
      // neither preview nor up reaches the API.
      caseIds = ["bad"];
      extra = { expiresAt: "2020-01-01T00:00:00Z" };
      const badUp = await callsDuring(() => stack.up());
      expect(badUp.calls).toEqual({});
      expect(String(badUp.error)).toContain("expiresAt 2020-01-01T00:00:00Z is in the past");
      const badPreview = await callsDuring(() => stack.preview());
      expect(badPreview.calls).toEqual({});
      expect(String(badPreview.error)).toContain("expiresAt 2020-01-01T00:00:00Z is in the past");
      expect(await server.admin.sessions({ external_case_id: "bad" })).toEqual([]);
    });
  });

  it("replaces the link when rotation changes: a new open session first, then the old one revoked", async () => {
    let rotation = "2027-spring";
    const program = sessionsProgram(() => ["rot"], () => ({ rotation }));
    await withInlineStack({ projectName: "klarefi-rotation", program, config: config() }, async ({ stack }) => {
      const first = await stack.up();
      const oldId = first.outputs.rot?.value as string;
      expect(oldId).toMatch(/^ses_/);

      rotation = "2027-autumn";
      const preview = await stack.preview();
      expect(preview.changeSummary).toEqual({ same: 1, replace: 1 });
      const rotated = await callsDuring(() => stack.up());
      expect(rotated.result?.summary.resourceChanges).toEqual({ same: 1, replace: 1 });
      expect(rotated.calls).toEqual({ [`${CREATE} 201`]: 1, [`${REVOKE} 200`]: 1 });
      const newId = rotated.result?.outputs.rot?.value as string;
      expect(newId).toMatch(/^ses_/);
      expect(newId).not.toBe(oldId);
      const sessions = await server.admin.sessions({ external_case_id: "rot" });
      expect(Object.fromEntries(sessions.map((s) => [s.session_id, s.status]))).toEqual({ [oldId]: "revoked", [newId]: "open" });
    });
  });

  it("drops a session the API no longer knows from state on refresh, and keeps the ones it knows", async () => {
    let caseIds = ["gone"];
    const program = sessionsProgram(() => caseIds);
    await withInlineStack({ projectName: "klarefi-gone", program, config: config() }, async ({ stack }) => {
      const first = await stack.up();
      const goneId = first.outputs.gone?.value as string;
      // The server forgets every session it has (the only way its admin API deletes one).
      await server.admin.reset();
      expect(await server.admin.sessions()).toEqual([]);
      caseIds = ["gone", "kept"];
      const second = await stack.up();
      expect(second.summary.resourceChanges).toEqual({ same: 2, create: 1 });
      const keptId = second.outputs.kept?.value as string;

      const refresh = await callsDuring(() => stack.refresh());
      expect(refresh.result?.summary.result).toBe("succeeded");
      expect(refresh.calls).toEqual({ [`${READ} 404`]: 1, [`${READ} 200`]: 1 });
      const inState = Object.keys(await sessionStates(stack)).sort();
      expect(inState).toEqual(["count-kept"]);
      expect((await sessionStates(stack))["count-kept"]?.id).toBe(keptId);
      expect(keptId).not.toBe(goneId);

      // The next up creates the dropped link again rather than trusting a session that is gone.
      const third = await stack.up();
      expect(third.summary.resourceChanges).toEqual({ same: 2, create: 1 });
      expect(third.outputs.gone?.value).not.toBe(goneId);
    });
  });

  it("fails a destroy the API refuses with one sentence and no stack trace, keeps the link in state, and the next destroy revokes it", async () => {
    const program = sessionsProgram(() => ["refused"]);
    // No retries, so that one injected 500 is the answer (the provider's settings are recorded at up).
    const stackConfig = { ...config(), "klarefi:maxRetries": { value: "0" } };
    await withInlineStack({ projectName: "klarefi-refused", program, config: stackConfig }, async ({ stack }) => {
      const id = (await stack.up()).outputs.refused?.value as string;
      await server.admin.setFaults({ rate500: 1 });
      let refused;
      try {
        refused = await callsDuring(() => stack.destroy());
      } finally {
        await server.admin.setFaults({ rate500: 0 });
      }
      const output = String((refused.error as Error | undefined)?.message ?? "");
      expect(output).toContain(`Revoking intake session ${id} failed: 500`);
      expect(output).not.toMatch(/^\s+at \S+ \(/m);
      expect(refused.calls).toEqual({ [`${REVOKE} 500`]: 1 });
      expect(Object.keys(await sessionStates(stack))).toEqual(["count-refused"]);

      await stack.destroy();
      const [session] = await server.admin.sessions({ external_case_id: "refused" });
      expect(session?.status).toBe("revoked");
    });
  });

  it("keeps a secret argument encrypted in state, in the inputs and in the request snapshot, and shows a changed field by name in the preview diff", async () => {
    let locale = "nl";
    const program = async () => {
      const s = new klarefi.IntakeSession("secret-arg", {
        caseTypeId: "travel_claim",
        externalCaseId: "claim_secret_arg",
        externalApplicantId: pulumi.secret("applicant_hidden_4711"),
        locale,
        reissue: "allow",
      });
      return { id: s.sessionId };
    };
    await withInlineStack({ projectName: "klarefi-secret-arg", program, config: config() }, async ({ stack, stackName, backendDir }) => {
      await stack.up();
      const onServer = await server.admin.sessions({ external_case_id: "claim_secret_arg" });
      expect(onServer.map((s) => s.external_applicant_id)).toEqual(["applicant_hidden_4711"]);
      const state = rawStateFile(backendDir, "klarefi-secret-arg", stackName);
      expect(state.includes("applicant_hidden_4711"), "secret argument in plaintext state").toBe(false);
      expect(state).toContain("claim_secret_arg");

      locale = "fr";
      const preview = await stack.preview({ diff: true });
      expect(preview.changeSummary).toEqual({ same: 1, replace: 1 });
      expect(preview.stdout).toMatch(/locale\s*:\s*"nl"\s*=>\s*"fr"/);
    });
  });

  it("gives the same program in two stacks different sessions", async () => {
    const rows = () => [{ caseId: "shared", locale: "nl" }];
    await withInlineStack({ projectName: "klarefi-e2e", program: programFor(rows), config: config() }, async ({ stack: a }) => {
      await withInlineStack({ projectName: "klarefi-e2e", program: programFor(rows), config: config() }, async ({ stack: b }) => {
        const [upA, upB] = [await a.up(), await b.up()];
        expect(upA.outputs.shared_id?.value).toBeTruthy();
        expect(upA.outputs.shared_id?.value).not.toBe(upB.outputs.shared_id?.value);
      });
    });
  });
});
