import { describe, expect, it } from "vitest";
import { KlarefiApiError, KlarefiConnectionError } from "../../client/errors";
import type { Klarefi } from "../../client/klarefi";
import type { CreateSessionRequest, Session } from "../../contract/schemas";
import type { CampaignLinksInputs } from "../../provider/campaign/links/inputs";
import { packLinks, packRows, packUrls } from "../../provider/campaign/links/packed";
import { CampaignLinksProviderImpl } from "../../provider/campaign/links/provider";
import type { ProviderConnection } from "../../provider/settings";

/** An in-memory Klarefi whose next revokes can be made to fail, behind the bulk provider. */
function fakeKlarefi(delayMs = 0) {
  const sessions = new Map<string, Session>();
  const byKey = new Map<string, string>();
  let failRevokes = 0;
  let n = 0;
  const session = (body: CreateSessionRequest): Session => ({
    object: "intake_session",
    session_id: `ses_${++n}`,
    case_id: `ses_${n}`,
    signed_url: `https://klarefi.test/i/ses_${n}?exp=1&sig=x`,
    status: "open",
    case_type_id: body.case_type_id,
    idempotency_key: body.idempotency_key,
    external_case_id: body.external_case_id,
    external_applicant_id: body.external_applicant_id,
    return_url: body.return_url ?? null,
    locale: body.locale ?? null,
    trace_id: null,
    expires_at: "2027-06-30T00:00:00Z",
    created_at: "2026-11-28T00:00:00Z",
    revoked_at: null,
  });
  const client = {
    sessions: {
      async create(body: CreateSessionRequest) {
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        const known = byKey.get(body.idempotency_key);
        if (known) return sessions.get(known) as Session;
        const created = session(body);
        sessions.set(created.session_id, created);
        byKey.set(body.idempotency_key, created.session_id);
        return created;
      },
      async retrieve(id: string) {
        return sessions.get(id) as Session;
      },
      async revoke(id: string) {
        if (failRevokes > 0) {
          failRevokes--;
          throw new KlarefiApiError(`Revoking intake session ${id} failed: 503 unavailable (request req_1)`, { operation: "Revoking intake session", status: 503, code: "unavailable" });
        }
        const s = sessions.get(id) as Session;
        s.status = "revoked";
        return s;
      },
    },
  };
  const impl = { client: async () => client as unknown as Klarefi, configProblem: () => undefined } as unknown as ProviderConnection;
  return { sessions, impl, failNextRevokes: (count: number) => (failRevokes = count) };
}

const inputs = (locale: string): CampaignLinksInputs => ({
  keyScope: "p/s/hail",
  caseTypeId: "hail_damage",
  locale,
  reissue: "allow",
  rows: { c1: { applicant: "a1" }, c2: { applicant: "a2" } },
});

describe("the bulk provider when revoking a replaced link fails", () => {
  it("keeps the new link, records the old one as retiring, and revokes it on the next up", async () => {
    const klarefi = fakeKlarefi();
    const provider = new CampaignLinksProviderImpl(klarefi.impl, () => ({ info: () => {} }));
    const created = await provider.create(inputs("nl"));
    const oldIds = Object.values(created.outs.sessions).map((s) => s.id);

    klarefi.failNextRevokes(1);
    const failure = (await provider.update(created.id, created.outs as unknown as Record<string, unknown>, inputs("fr")).catch((e: unknown) => e)) as Error & {
      properties: Record<string, unknown> & { retiring?: string[]; sessions: Record<string, { id: string }> };
    };
    expect(failure.message).toMatch(/1 of 2 links failed; the others are recorded/);
    expect(failure.message).toMatch(/revoking the old link ses_\d+ failed \(the next run tries again\)/);
    expect(failure.properties.retiring).toHaveLength(1);
    const retiringId = failure.properties.retiring?.[0] as string;
    expect(oldIds).toContain(retiringId);
    expect(klarefi.sessions.get(retiringId)?.status).toBe("open");
    // Both rows have their new link in state.
    for (const row of Object.values(failure.properties.sessions)) expect(oldIds).not.toContain(row.id);

    const diff = await provider.diff(created.id, failure.properties, inputs("fr"));
    expect(diff.changes).toBe(true);
    const next = await provider.update(created.id, failure.properties, inputs("fr"));
    expect(next.outs.retiring).toBeUndefined();
    expect(klarefi.sessions.get(retiringId)?.status).toBe("revoked");
    expect((await provider.diff(created.id, next.outs as unknown as Record<string, unknown>, inputs("fr"))).changes).toBe(false);
  });
});

describe("the bulk provider against an API it cannot reach", () => {
  it("stops after 10 refused rows, reports the rest as not attempted with one grouped reason, and logs what it did", async () => {
    let creates = 0;
    const client = {
      maxConcurrency: 8,
      sessions: {
        async create() {
          creates++;
          await new Promise((r) => setImmediate(r));
          throw new KlarefiConnectionError(
            "Creating intake session failed: could not reach http://127.0.0.1:4011 (ECONNREFUSED) (1 attempt); check stack config klarefi:baseUrl and that the API is up",
            { operation: "Creating intake session", failure: "refused" },
          );
        },
      },
    };
    const impl = { client: async () => client as unknown as Klarefi, configProblem: () => undefined } as unknown as ProviderConnection;
    const lines: string[] = [];
    const provider = new CampaignLinksProviderImpl(impl, () => ({ info: (line) => void lines.push(line) }));
    const rows = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`hail_${i + 1}`, { applicant: `a${i + 1}` }]));
    const failure = (await provider.create({ keyScope: "p/s/hail-2027", caseTypeId: "hail_damage", rows }).catch((e: unknown) => e)) as Error & {
      properties: { sessions: Record<string, unknown> };
    };
    expect(creates).toBeGreaterThanOrEqual(10);
    // At most the rows in flight when the breaker opened, plus the 9 started while the first failures came back.
    expect(creates).toBeLessThanOrEqual(10 + 16);
    const lead = failure.message.split("\n");
    expect(lead[0]).toBe(
      `Provisioning campaign hail-2027: ${creates} of 2,000 links failed and ${(2000 - creates).toLocaleString("en-US")} were not attempted ` +
        "(the Klarefi API could not be reached for 10 rows in a row, so no further rows were started); the others are recorded in the stack, and the next `pulumi up` does only what is left:",
    );
    expect(lead[1]).toMatch(new RegExp(`^  - ${creates} rows \\(hail_1, hail_2, hail_3, and ${creates - 3} more\\): Creating intake session failed: could not reach .*check stack config klarefi:baseUrl`));
    expect(lead[2]).toMatch(new RegExp(`^  - ${(2000 - creates).toLocaleString("en-US")} rows not attempted`));
    expect(lead).toHaveLength(3);
    expect(failure.properties.sessions).toEqual({});
    expect(lines).toContain(`hail-2027: created 0, reissued 0, extended 0, revoked 0; ${creates} failed, ${(2000 - creates).toLocaleString("en-US")} not attempted`);
  });

  it("says what an up did: created, reissued, extended, revoked and completed rows kept", async () => {
    const klarefi = fakeKlarefi();
    const lines: string[] = [];
    const provider = new CampaignLinksProviderImpl(klarefi.impl, () => ({ info: (line) => void lines.push(line) }));
    const created = await provider.create(inputs("nl"));
    expect(lines).toEqual(["hail: created 2, reissued 0, extended 0, revoked 0"]);
    const c1 = created.outs.sessions.c1 as { id: string };
    (klarefi.sessions.get(c1.id) as Session).status = "completed";
    lines.length = 0;
    await provider.update(created.id, created.outs as unknown as Record<string, unknown>, { ...inputs("fr"), rows: { c1: { applicant: "a1" }, c2: { applicant: "a2" }, c3: { applicant: "a3" } } });
    expect(lines).toEqual(["hail: created 1, reissued 1, extended 0, revoked 0, kept 1 completed"]);
  });
});

describe("the bulk provider's digest of the inputs it carried out", () => {
  const packed = (locale: string) => ({ ...inputs(locale), rows: packRows(inputs(locale).rows) });

  it("lets diff answer 'no change' for the same inputs without reading a row, and read the rows again for other inputs", async () => {
    const klarefi = fakeKlarefi();
    const provider = new CampaignLinksProviderImpl(klarefi.impl, () => ({ info: () => {} }));
    const created = await provider.create(packed("nl"));
    expect(created.outs.applied).toMatch(/^[0-9a-f]{24}$/);
    const outs = created.outs as unknown as Record<string, unknown>;
    expect((await provider.diff(created.id, outs, packed("nl"))).changes).toBe(false);
    // Stored links the digest cannot vouch for (a row missing) are read again: the missing row is created.
    const { c2: _dropped, ...oneRow } = created.outs.sessions;
    expect((await provider.diff(created.id, { ...outs, sessions: oneRow }, packed("nl"))).changes).toBe(true);
    expect((await provider.diff(created.id, outs, packed("fr"))).changes).toBe(true);
  });

  it("answers 'no change' from the digest for links stored packed and deflated, as the engine keeps them", async () => {
    const klarefi = fakeKlarefi();
    const provider = new CampaignLinksProviderImpl(klarefi.impl, () => ({ info: () => {} }));
    const created = await provider.create(packed("nl"));
    const { sessions, signedUrls, ...rest } = created.outs;
    // Fingerprints the rows do not match: only the digest can answer "no change" for these links.
    const stale = Object.fromEntries(Object.entries(sessions).map(([c, s]) => [c, { ...s, fp: "000000000000" }]));
    const stored: Record<string, unknown> = { ...rest, links: packLinks(stale), urls: packUrls(signedUrls, stale) };
    expect(String(stored.links).startsWith("klarefi-links/1 deflate\n")).toBe(true);
    expect((await provider.diff(created.id, stored, packed("nl"))).changes).toBe(false);
    const readingRows = await provider.diff(created.id, { ...stored, applied: "0".repeat(24) }, packed("nl")).then((r) => r.changes, () => "refused");
    expect(readingRows).not.toBe(false);
  });

  it("is dropped by a refresh that saw a deadline move outside Pulumi, and kept by one that saw nothing change", async () => {
    const klarefi = fakeKlarefi();
    const provider = new CampaignLinksProviderImpl(klarefi.impl, () => ({ info: () => {} }));
    const created = await provider.create({ ...packed("nl"), expiresAt: "2027-06-30T00:00:00Z" });
    const outs = created.outs as unknown as Record<string, unknown>;
    expect((await provider.read(created.id, outs)).props.applied).toBe(created.outs.applied);
    const [first] = klarefi.sessions.values();
    first!.expires_at = "2027-08-31T00:00:00Z";
    const refreshed = await provider.read(created.id, outs);
    expect(refreshed.props.applied).toBeUndefined();
    // The next diff reads the rows and moves that deadline back.
    expect((await provider.diff(created.id, refreshed.props, { ...packed("nl"), expiresAt: "2027-06-30T00:00:00Z" })).changes).toBe(true);
  });
});

describe("the bulk provider when the engine cancels (Ctrl-C through the provider plugin)", () => {
  it("starts no more rows, fails with the rows it finished in its state, and says the run was cancelled", async () => {
    const klarefi = fakeKlarefi(2);
    const provider = new CampaignLinksProviderImpl(klarefi.impl, () => ({ info: () => {} }));
    const rows = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`c${i}`, { applicant: `a${i}` }]));
    const running = provider.create({ keyScope: "p/s/hail", caseTypeId: "hail_damage", rows }).catch((e: unknown) => e);
    // Let some rows finish, then cancel.
    await new Promise((r) => setTimeout(r, 20));
    provider.cancel();
    const failure = (await running) as Error & { properties: { sessions: Record<string, unknown> } };
    expect(failure).toBeInstanceOf(Error);
    expect(failure.message).toMatch(/were not attempted \(the run was cancelled \(Ctrl-C\), so no further rows were started\)/);
    const made = Object.keys(failure.properties.sessions).length;
    expect(made).toBeGreaterThan(0);
    expect(made).toBeLessThan(400);
    expect(klarefi.sessions.size).toBe(made);
  });
});
