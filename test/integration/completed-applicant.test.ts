import { describe, expect, it } from "vitest";
import type { CampaignLinksInputs } from "../../provider/campaign/links/inputs";
import { CampaignLinksProviderImpl } from "../../provider/campaign/links/provider";
import { IntakeSessionProviderImpl } from "../../provider/intake-session/provider";
import { ProviderConnection } from "../../provider/settings";
import { callsSince, useTestServer } from "../helpers/server";

// An applicant who completed since the last refresh keeps the session when a
// reissue is allowed: the state the provider is given still says "open", so
// only its re-read of the live session can tell. Provider methods called
// directly against the local server (the engine-level test of both modes is
// test/e2e/completed-applicant.test.ts).

const server = useTestServer();

async function connected(): Promise<ProviderConnection> {
  const connection = new ProviderConnection();
  await connection.configure({ apiKey: server.apiKey, baseUrl: server.url, maxRetries: 0 });
  return connection;
}

describe("the per-link diff when the state says open but the applicant completed", () => {
  it("replaces nothing for a reissuing change, even with reissue allow", async () => {
    const impl = new IntakeSessionProviderImpl(await connected());
    const inputs = { caseTypeId: "hail_damage", externalCaseId: "claim_done", externalApplicantId: "applicant_done", locale: "nl", reissue: "allow", keyScope: "p/s/claim-done" };
    const { id, outs } = await impl.create(inputs);
    expect(outs.status).toBe("open");
    await server.admin.completeSession(id);

    const changed = { ...inputs, locale: "fr" };
    const diff = await impl.diff(id, { ...outs } as Record<string, unknown>, changed);
    expect(diff.replaces).toEqual([]);
    // The same change for a session still open replaces it: the diff above kept the session because of what it read.
    const other = await impl.create({ ...inputs, externalCaseId: "claim_open", keyScope: "p/s/claim-open" });
    expect((await impl.diff(other.id, { ...other.outs } as Record<string, unknown>, { ...changed, externalCaseId: "claim_open", keyScope: "p/s/claim-open" })).replaces).toContain("locale");
  });
});

describe("the bulk update when the state says open but the applicant completed", () => {
  it("keeps the completed row's session, records it completed, and reissues only the open row", async () => {
    const provider = new CampaignLinksProviderImpl(await connected(), () => ({ info: () => {} }));
    const inputs = (locale: string): CampaignLinksInputs => ({
      keyScope: "p/s/completing",
      caseTypeId: "hail_damage",
      locale,
      reissue: "allow",
      rows: { claim_done: { applicant: "applicant_done" }, claim_open: { applicant: "applicant_open" } },
    });
    const created = await provider.create(inputs("nl"));
    const done = created.outs.sessions.claim_done?.id as string;
    const open = created.outs.sessions.claim_open?.id as string;
    await server.admin.completeSession(done);

    const before = await server.admin.apiCalls();
    const { outs } = await provider.update(created.id, created.outs as unknown as Record<string, unknown>, inputs("fr"));
    const calls = callsSince(before, await server.admin.apiCalls());
    expect(Object.fromEntries(Object.entries(calls).filter(([call]) => call.startsWith("POST ")))).toEqual({
      "POST /api/v1/sessions 201": 1,
      "POST /api/v1/sessions/{id}/revoke 200": 1,
    });
    expect(outs.sessions.claim_done).toMatchObject({ id: done, status: "completed" });
    expect(outs.sessions.claim_open?.id).not.toBe(open);
    expect(outs.summary).toMatchObject({ total: 2, open: 1, completed: 1 });
    const statuses = Object.fromEntries((await server.admin.sessions()).map((s) => [s.session_id, s.status]));
    expect(statuses[done]).toBe("completed");
    expect(statuses[open]).toBe("revoked");
  });
});
