import { describe, expect, it } from "vitest";
import { type CampaignLinksInputs, desiredRows, type LinkState, summarize } from "../../provider/campaign/links/inputs";
import { packRows } from "../../provider/campaign/links/packed";
import { planCampaign, reissueRefusal, reissuingFieldChanges } from "../../provider/campaign/links/plan";
import { CampaignLinksProviderImpl } from "../../provider/campaign/links/provider";
import { ProviderConnection } from "../../provider/settings";

const base: CampaignLinksInputs = {
  keyScope: "proj/dev/hail",
  caseTypeId: "hail_damage",
  locale: "nl",
  expiresAt: "2027-06-30T00:00:00Z",
  rows: { c1: { applicant: "a1" }, c2: { applicant: "a2" }, c3: { applicant: "a3", locale: "fr" } },
};

/** State as an up of `inputs` would leave it, with each row's status. */
function stateFor(inputs: CampaignLinksInputs, statuses: Record<string, LinkState["status"]> = {}): Record<string, LinkState> {
  const state: Record<string, LinkState> = {};
  for (const [caseId, row] of desiredRows(inputs)) {
    state[caseId] = { id: `ses_${caseId}`, status: statuses[caseId] ?? "open", fp: row.fp, exp: inputs.expiresAt ?? "2027-01-01T00:00:00Z" };
  }
  return state;
}

const plan = (state: Record<string, LinkState>, news: CampaignLinksInputs, rotated = false, retainRemovedRows = false) =>
  planCampaign(state, desiredRows(news), { rotated, retainRemovedRows });

const none = { create: [], reissue: [], extend: [], keepCompleted: [], revoke: [], forget: [] };

describe("the bulk campaign plan", () => {
  it.each([
    ["the same inputs", base, {}, none],
    ["a new row", { ...base, rows: { ...base.rows, c4: { applicant: "a4" } } }, {}, { ...none, create: ["c4"] }],
    ["a removed row", { ...base, rows: { c1: { applicant: "a1" }, c2: { applicant: "a2" } } }, {}, { ...none, revoke: ["c3"] }],
    ["one row's new applicant", { ...base, rows: { ...base.rows, c2: { applicant: "b2" } } }, {}, { ...none, reissue: ["c2"] }],
    ["a new default locale (c3 keeps its own)", { ...base, locale: "de" }, {}, { ...none, reissue: ["c1", "c2"] }],
    ["a new expiry", { ...base, expiresAt: "2027-07-31T00:00:00Z" }, {}, { ...none, extend: ["c1", "c2", "c3"] }],
    ["the same expiry written another way", { ...base, expiresAt: "2027-06-30T02:00:00+02:00" }, {}, none],
    ["a new expiry with one row completed and one revoked", { ...base, expiresAt: "2027-07-31T00:00:00Z" }, { c1: "completed", c2: "revoked" }, { ...none, extend: ["c3"] }],
    ["a new locale for a completed row", { ...base, locale: "de" }, { c1: "completed" }, { ...none, reissue: ["c2"], keepCompleted: ["c1"] }],
    ["a removed row that was already revoked", { ...base, rows: { c1: { applicant: "a1" }, c2: { applicant: "a2" } } }, { c3: "revoked" }, { ...none, forget: ["c3"] }],
  ] as const)("for %s decides row by row", (_what, news, statuses, expected) => {
    expect(plan(stateFor(base, statuses), news as CampaignLinksInputs)).toEqual(expected);
  });

  it("reissues completed rows too when the rotation changed on purpose", () => {
    const rotated = { ...base, rotation: "2027-b" };
    expect(plan(stateFor(base, { c1: "completed" }), rotated, true).reissue).toEqual(["c1", "c2", "c3"]);
  });

  it("keeps removed rows' links when the campaign retains them", () => {
    const news = { ...base, rows: { c1: { applicant: "a1" } } };
    expect(plan(stateFor(base), news, false, true)).toEqual({ ...none, forget: ["c2", "c3"] });
  });

  it("derives each row's key scope as IntakeSession does for the same campaign row", () => {
    expect(desiredRows(base).get("c1")?.scope).toBe("proj/dev/hail-c1");
  });

  it("counts rows per status", () => {
    expect(summarize(stateFor(base, { c1: "completed", c2: "expired" }))).toEqual({ total: 3, open: 1, completed: 1, revoked: 0, expired: 1 });
  });
});

describe("the mass-reissue guard", () => {
  const refusal = (olds: CampaignLinksInputs, news: CampaignLinksInputs, statuses: Record<string, LinkState["status"]> = {}, allowed = false) => {
    const state = stateFor(olds, statuses);
    return reissueRefusal(state, plan(state, news), { allowed, fields: reissuingFieldChanges(olds, news) });
  };

  it.each([
    ["a new expiry only", base, { ...base, expiresAt: "2027-07-31T00:00:00Z" }],
    ["new rows and removed rows", base, { ...base, rows: { c1: { applicant: "a1" }, c9: { applicant: "a9" } } }],
  ])("lets %s through", (_what, olds, news) => {
    expect(refusal(olds, news)).toBeUndefined();
  });

  it("lets a new locale through when reissue is allowed or the rotation changed", () => {
    expect(refusal(base, { ...base, locale: "de" }, {}, true)).toBeUndefined();
  });

  it("refuses a new default locale with the count of live links, the rows and the way to ask for it", () => {
    const reason = refusal(base, { ...base, locale: "de" });
    expect(reason).toMatch(/^This change would revoke and reissue 2 live links \(c1, c2\): a new locale needs a new link/);
    expect(reason).toContain('set reissue: "allow"');
  });

  it("counts only rows whose link is live: closed links and completed applicants are not reissued against anyone's will", () => {
    expect(refusal(base, { ...base, locale: "de" }, { c1: "revoked", c2: "completed" })).toBeUndefined();
    expect(refusal(base, { ...base, locale: "de" }, { c1: "expired" })).toMatch(/reissue 1 live link \(c2\)/);
  });

  it("refuses nothing for rows that have no link yet, as after a first up that failed", () => {
    const news = { ...base, locale: "NL" };
    expect(reissueRefusal({}, plan({}, news), { allowed: false, fields: reissuingFieldChanges(base, news) })).toBeUndefined();
  });

  it("names every field that forces new links and shortens a long list of rows", () => {
    const rows = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`c${i}`, { applicant: `a${i}` }]));
    const olds = { ...base, rows };
    expect(refusal(olds, { ...olds, caseTypeId: "motor_claim", returnUrl: "https://x.example/back" })).toMatch(
      /8 live links \(c0, c1, c2, c3, c4, and 3 more\): a new caseTypeId, returnUrl needs a new link/,
    );
  });

  it("names the CSV column of a row's own value when the rows came from a CSV file", () => {
    const news = { ...base, csvFile: "applicants.csv", rows: { ...base.rows, c1: { applicant: "someone_else" } } };
    expect(refusal(base, news)).toMatch(/reissue 1 live link \(c1\): a new external_applicant_id in applicants.csv needs a new link/);
  });
});

describe("the bulk provider's check", () => {
  const impl = () => new CampaignLinksProviderImpl(new ProviderConnection(), () => ({ info: () => {} }));

  it("names each bad row field by its path, before any API call", async () => {
    const news = { ...base, rows: { ...base.rows, c3: { applicant: "a3", locale: "nl_NL" }, c4: { applicant: "a4", returnUrl: "http://x.example/" } } };
    const { failures } = await impl().check({}, news);
    expect(failures.map((f) => f.property)).toEqual(["rows.c3.locale", "rows.c4.returnUrl"]);
    expect(failures[0]?.reason).toMatch(/locale must be a BCP 47 language tag/);
  });

  it("names the changed field in diff's refusal when the rows arrive packed, as the dynamic provider stores them", async () => {
    const provider = impl();
    const packed = (inputs: CampaignLinksInputs) => ({ ...inputs, rows: packRows(inputs.rows) });
    const news = { ...base, locale: "de" };
    expect((await provider.check(packed(base), packed(news))).failures).toEqual([]);
    const outputs = { keyScope: base.keyScope, caseTypeId: base.caseTypeId, sessions: stateFor(base) };
    await expect(provider.diff("id", outputs, packed(news))).rejects.toThrow(/reissue 2 live links \(c1, c2\): a new locale needs a new link/);
  });

  it("refuses a new shard count on a live campaign before any API call, unless dropped links are kept (retainOnDelete)", async () => {
    const sharded = { ...base, shard: { index: 0, count: 4 } };
    const { failures } = await impl().check(base, sharded);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.reason).toMatch(/keeps its links in 1 shard; changing shards to 4 moves live links.*set retainOnDelete: true/);
    expect((await impl().check(base, { ...sharded, retainRemovedRows: true })).failures).toEqual([]);
    expect((await impl().check({}, sharded)).failures).toEqual([]);
    expect((await impl().check(sharded, sharded)).failures).toEqual([]);
  });

  it("refuses a new deadline in the past but keeps an old one so an expired campaign still refreshes and destroys", async () => {
    const past = { ...base, expiresAt: "2020-01-01T00:00:00Z" };
    expect((await impl().check(base, past)).failures[0]?.reason).toMatch(/in the past/);
    expect((await impl().check(past, past)).failures).toEqual([]);
  });

  it("reports a stack config problem as one check failure", async () => {
    const sessions = new ProviderConnection();
    await sessions.configureFrom({ get: (key: string) => (key === "klarefi:baseUrl" ? "http://127.0.0.1:4010/api/v1" : key === "klarefi:apiKey" ? "sk_test_klarefi_local_0000000000000000" : undefined) });
    const { failures } = await new CampaignLinksProviderImpl(sessions, () => ({ info: () => {} })).check({}, base);
    expect(failures).toEqual([{ property: "", reason: expect.stringMatching(/^Stack config klarefi:baseUrl ends in \/api\/v1/) }]);
  });
});
