import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_SCHEMAS, ExpirySettings, PerLinkCampaignSettings, ReturnUrlSettings, settingsOf } from "../../policy/src/config";
import { CAMPAIGN_COMPONENT_TYPE, linkResourceOf, SESSION_TYPES } from "../../policy/src/links";
import { campaignRowsOf } from "../../policy/src/rows";
import { packRows } from "../../provider/campaign/links/packed";
import { expiryViolations, hostAllowed, MAX_LISTED_ROWS, perLinkCampaignViolations, reissueViolations, returnUrlProblem, returnUrlViolations } from "../../policy/src/rules";
import { plainOf, UNKNOWN } from "../../policy/src/values";

const NOW = Date.parse("2027-01-01T00:00:00Z");
const DAY = 86_400_000;
const inDays = (days: number) => new Date(NOW + days * DAY).toISOString().replace(/\.\d{3}Z$/, "Z");
const UNKNOWN_MARKER = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const DYNAMIC_SESSION = "pulumi-nodejs:dynamic/klarefi:IntakeSession";
const PLUGIN_SESSION = "klarefi:index:IntakeSession";
const DYNAMIC_CAMPAIGN = "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks";
const PLUGIN_CAMPAIGN = "klarefi:index:IntakeCampaignLinks";

const sessionFields = { caseTypeId: "motor_claim", externalCaseId: "claim_1", externalApplicantId: "applicant_1" };
/** The inputs of one session, as each provider registers them. */
function sessionInputs(type: string, fields: Record<string, unknown>): Record<string, unknown> {
  const all = { ...sessionFields, ...fields, keyScope: "proj/dev/claim-1" };
  return type === DYNAMIC_SESSION ? { __provider: "exports.handler = …", args: all } : all;
}
function session(type: string, fields: Record<string, unknown>) {
  const link = linkResourceOf(type, "claim-1", plainOf(sessionInputs(type, fields)));
  if (!link) throw new Error(`${type} was not read as a link resource`);
  return link;
}
function campaign(type: string, fields: Record<string, unknown>) {
  const inputs = { caseTypeId: "hail_damage", keyScope: "proj/dev/hail", ...fields, ...(type === DYNAMIC_CAMPAIGN ? { __provider: "exports.handler = …" } : {}) };
  const link = linkResourceOf(type, "hail", plainOf(inputs));
  if (!link) throw new Error(`${type} was not read as a link resource`);
  return link;
}

describe("reading the link resources of both providers", () => {
  it.each([DYNAMIC_SESSION, PLUGIN_SESSION])("reads expiresAt, returnUrl and reissue of a %s", (type) => {
    expect(session(type, { expiresAt: "2027-03-01T00:00:00Z", returnUrl: "https://a.example/x", reissue: "allow" })).toMatchObject({
      kind: "session",
      label: 'IntakeSession "claim-1"',
      expiresAt: "2027-03-01T00:00:00Z",
      returnUrl: "https://a.example/x",
      reissue: "allow",
    });
  });

  it.each([DYNAMIC_CAMPAIGN, PLUGIN_CAMPAIGN])("reads the rows of a %s with their own return URLs", (type) => {
    const link = campaign(type, { rows: { claim_1: { applicant: "a1" }, claim_2: { applicant: "a2", returnUrl: "https://b.example/" } } });
    expect(link).toMatchObject({ kind: "campaign", label: 'IntakeCampaignLinks "hail"' });
    expect(link.kind === "campaign" && link.rows).toEqual([
      { caseId: "claim_1", path: "rows.claim_1", returnUrl: undefined },
      { caseId: "claim_2", path: "rows.claim_2", returnUrl: "https://b.example/" },
    ]);
  });

  it("reads the packed rows the dynamic provider stores, with their own return URLs", () => {
    const rows = { claim_1: { applicant: "a1" }, claim_2: { applicant: "a2", returnUrl: "https://b.example/" } };
    const link = campaign(DYNAMIC_CAMPAIGN, { rows: packRows(rows) });
    expect(link.kind === "campaign" && link.rows).toEqual([
      { caseId: "claim_1", path: "rows.claim_1", returnUrl: undefined },
      { caseId: "claim_2", path: "rows.claim_2", returnUrl: "https://b.example/" },
    ]);
  });

  it("leaves every other resource type alone", () => {
    expect(linkResourceOf("aws:s3/bucket:Bucket", "b", plainOf({ expiresAt: inDays(400) }))).toBeUndefined();
    expect(linkResourceOf(CAMPAIGN_COMPONENT_TYPE, "hail", plainOf({}))).toBeUndefined();
  });

  it("marks values not known yet, from the engine's marker or from @pulumi/policy's proxy, without throwing", () => {
    // @pulumi/policy's own proxy, which throws on reading an unknown value.
    const { unknownCheckingProxy } = createRequire(require.resolve("@pulumi/policy/package.json"))("./proxy.js") as { unknownCheckingProxy(v: unknown): unknown };
    const proxied = unknownCheckingProxy({ expiresAt: UNKNOWN_MARKER, returnUrl: "https://a.example/", rows: { a: { returnUrl: UNKNOWN_MARKER } } });
    expect(() => (proxied as { expiresAt: unknown }).expiresAt).toThrow(/can't be known during preview/);
    expect(plainOf(proxied)).toEqual({ expiresAt: UNKNOWN, returnUrl: "https://a.example/", rows: { a: { returnUrl: UNKNOWN } } });
    expect(plainOf({ rows: UNKNOWN_MARKER })).toEqual({ rows: UNKNOWN });
    const whole = linkResourceOf(DYNAMIC_SESSION, "s", plainOf({ __provider: "x", args: UNKNOWN_MARKER }));
    expect(whole).toMatchObject({ expiresAt: UNKNOWN, returnUrl: UNKNOWN, reissue: UNKNOWN });
    expect(campaignRowsOf(plainOf({ rows: UNKNOWN_MARKER }) as never)).toBe(UNKNOWN);
  });
});

describe("intake-link-max-expiry", () => {
  it.each([
    ["30 days ahead, maxDays 90", 30, 90, 0],
    ["exactly maxDays ahead", 90, 90, 0],
    ["a day more than maxDays", 91, 90, 1],
    ["200 days ahead, maxDays 90", 200, 90, 1],
    ["200 days ahead, maxDays 365", 200, 365, 0],
  ])("judges an expiry %s", (_what, days, maxDays, count) => {
    for (const type of [DYNAMIC_SESSION, PLUGIN_SESSION]) {
      expect(expiryViolations(session(type, { expiresAt: inDays(days) }), maxDays, NOW)).toHaveLength(count);
    }
  });

  it("names the resource, the field, the days ahead and maxDays", () => {
    expect(expiryViolations(session(PLUGIN_SESSION, { expiresAt: inDays(200) }), 90, NOW)).toEqual([
      {
        field: "expiresAt",
        message: `IntakeSession "claim-1": expiresAt ${inDays(200)} is 200 days ahead, more than the 90 days the policy allows (maxDays). Choose an expiry at most 90 days ahead; a link can be extended later without a new one.`,
      },
    ]);
  });

  it("judges a link without expiresAt by the API's default of 30 days", () => {
    expect(expiryViolations(session(DYNAMIC_SESSION, {}), 30, NOW)).toEqual([]);
    const [violation] = expiryViolations(session(DYNAMIC_SESSION, {}), 14, NOW);
    expect(violation?.message).toContain("has no expiresAt, so the API's default applies: 30 days after creation, more than the 14 days the policy allows (maxDays)");
  });

  it("judges a campaign's expiry for all of its rows", () => {
    const link = campaign(PLUGIN_CAMPAIGN, { expiresAt: inDays(200), rows: { a: { applicant: "1" }, b: { applicant: "2" } } });
    expect(expiryViolations(link, 90, NOW)[0]?.message).toContain("more than the 90 days the policy allows (maxDays); it applies to all 2 rows of the campaign");
  });

  it("skips an expiry not known yet, and leaves an unparseable one to the provider's check", () => {
    expect(expiryViolations(session(PLUGIN_SESSION, { expiresAt: UNKNOWN_MARKER }), 14, NOW)).toEqual([]);
    expect(expiryViolations(session(PLUGIN_SESSION, { expiresAt: "next spring" }), 14, NOW)).toEqual([]);
  });
});

describe("intake-link-return-url", () => {
  it.each([
    ["https://claims.example.com/x", [], undefined],
    ["https://claims.example.com/x", ["claims.example.com"], undefined],
    ["https://CLAIMS.example.com/x", ["claims.example.com"], undefined],
    ["https://broker.example.com/x", ["*.example.com"], undefined],
    ["https://example.com/x", ["*.example.com"], "goes to example.com, which is not on the allowed list (allowedHosts: *.example.com)"],
    ["https://evil-example.com/x", ["*.example.com"], "goes to evil-example.com, which is not on the allowed list"],
    ["https://other.example.org/x", ["claims.example.com"], "goes to other.example.org, which is not on the allowed list (allowedHosts: claims.example.com)"],
    ["http://claims.example.com/x", [], "is not https; the policy allows https return URLs only"],
    ["http://localhost:3000/done", [], "is not https"],
    ["claims.example.com/x", [], "is not an absolute URL"],
  ])("judges %s on %j", (url, hosts, problem) => {
    const found = returnUrlProblem(url, hosts);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it("matches hosts exactly, or any subdomain for *.", () => {
    expect(hostAllowed("a.b.example.com", ["*.example.com"])).toBe(true);
    expect(hostAllowed("example.com", ["example.com"])).toBe(true);
    expect(hostAllowed("example.com.evil.org", ["example.com"])).toBe(false);
    expect(hostAllowed("anything.org", [])).toBe(true);
  });

  it("names the row and its field in a campaign, and the campaign's default as returnUrl", () => {
    const link = campaign(DYNAMIC_CAMPAIGN, {
      returnUrl: "http://claims.example.com/",
      rows: { claim_1: { applicant: "1" }, claim_2: { applicant: "2", returnUrl: "https://elsewhere.org/" } },
    });
    expect(returnUrlViolations(link, ["claims.example.com"])).toEqual([
      { field: "returnUrl", message: expect.stringMatching(/^IntakeCampaignLinks "hail": the campaign's returnUrl \(the rows' default\) http:\/\/claims\.example\.com\/ is not https/) },
      {
        field: "rows.claim_2.returnUrl",
        row: "claim_2",
        message: 'IntakeCampaignLinks "hail", row claim_2: rows.claim_2.returnUrl https://elsewhere.org/ goes to elsewhere.org, which is not on the allowed list (allowedHosts: claims.example.com).',
      },
    ]);
  });

  it(`lists the first ${MAX_LISTED_ROWS} bad rows of a campaign and counts the rest`, () => {
    const rows = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`c${i}`, { applicant: `a${i}`, returnUrl: "http://x.example/" }]));
    const found = returnUrlViolations(campaign(PLUGIN_CAMPAIGN, { rows }), []);
    expect(found).toHaveLength(MAX_LISTED_ROWS + 1);
    expect(found.at(-1)?.message).toBe('IntakeCampaignLinks "hail": 5 more rows have return URLs the policy refuses (not listed).');
  });
});

describe("intake-link-reissue-left-on", () => {
  it("reports reissue: allow on a session and on a campaign, with the number of links at stake", () => {
    expect(reissueViolations(session(PLUGIN_SESSION, {}))).toEqual([]);
    expect(reissueViolations(session(DYNAMIC_SESSION, { reissue: "allow" }))[0]?.message).toMatch(/^IntakeSession "claim-1" keeps reissue: "allow": .* revokes this link/);
    const link = campaign(DYNAMIC_CAMPAIGN, { reissue: "allow", rows: { a: { applicant: "1" }, b: { applicant: "2" }, c: { applicant: "3" } } });
    expect(reissueViolations(link)[0]).toMatchObject({ field: "reissue", message: expect.stringContaining("revokes the 3 links of this campaign") });
  });
});

describe("intake-campaign-per-link-size", () => {
  const parent = (name: string) => ({ type: CAMPAIGN_COMPONENT_TYPE, name, urn: `urn:pulumi:dev::p::${CAMPAIGN_COMPONENT_TYPE}::${name}` });
  const sessions = (n: number, campaignName: string, type = DYNAMIC_SESSION) =>
    Array.from({ length: n }, (_, i) => ({ type, name: `${campaignName}-c${i}`, parent: parent(campaignName) }));

  it("reports a per-link campaign above maxRows, naming bulk mode and the measured cost", () => {
    const found = perLinkCampaignViolations([...sessions(4, "big"), ...sessions(3, "small")], SESSION_TYPES, CAMPAIGN_COMPONENT_TYPE, 3);
    expect(found).toHaveLength(1);
    expect(found[0]?.message).toContain('IntakeCampaign "big" keeps 4 links in per-link mode (one IntakeSession each), more than 3 (maxRows). Use mode: "bulk"');
    expect(found[0]?.message).toContain("per-link up took 15.1 s for 500 links and 52.8 s for 1,000, bulk 1.8 s and 2.0 s");
  });

  it("counts only sessions whose parent is an IntakeCampaign component", () => {
    const loose = Array.from({ length: 10 }, (_, i) => ({ type: PLUGIN_SESSION, name: `s${i}`, parent: { type: "pulumi:pulumi:Stack", name: "p-dev", urn: "urn:stack" } }));
    expect(perLinkCampaignViolations(loose, SESSION_TYPES, CAMPAIGN_COMPONENT_TYPE, 3)).toEqual([]);
  });

  it("takes the measured figures from the benchmark files they cite", () => {
    type Bench = { links: number; modes: Record<"per-link" | "bulk", { up_s: number }> };
    const bench = (file: string) => JSON.parse(readFileSync(path.join(__dirname, "..", "..", "docs", "bench", file), "utf8")) as Bench;
    const [message] = perLinkCampaignViolations(sessions(2, "x"), SESSION_TYPES, CAMPAIGN_COMPONENT_TYPE, 1).map((v) => v.message);
    const b500 = bench("p500.json");
    const b1000 = bench("p1000.json");
    expect([b500.links, b1000.links]).toEqual([500, 1000]);
    const s = (seconds: number) => `${seconds.toFixed(1)} s`;
    expect(message).toContain(
      `per-link up took ${s(b500.modes["per-link"].up_s)} for 500 links and ${s(b1000.modes["per-link"].up_s)} for 1,000, bulk ${s(b500.modes.bulk.up_s)} and ${s(b1000.modes.bulk.up_s)}`,
    );
  });
});

describe("policy settings", () => {
  it("fills the documented defaults", () => {
    expect(settingsOf(ExpirySettings, "p", {})).toEqual({ maxDays: 90 });
    expect(settingsOf(ReturnUrlSettings, "p", undefined)).toEqual({ allowedHosts: [] });
    expect(settingsOf(PerLinkCampaignSettings, "p", {})).toEqual({ maxRows: 500 });
  });

  it("refuses a setting out of range, naming it", () => {
    expect(() => settingsOf(ExpirySettings, "intake-link-max-expiry", { maxDays: 0 })).toThrow(/The config of policy intake-link-max-expiry is not valid: maxDays: /);
  });

  it("declares the same defaults to the engine as it applies", () => {
    expect(CONFIG_SCHEMAS.expiry.properties.maxDays.default).toBe(settingsOf(ExpirySettings, "p", {}).maxDays);
    expect(CONFIG_SCHEMAS.returnUrl.properties.allowedHosts.default).toEqual(settingsOf(ReturnUrlSettings, "p", {}).allowedHosts);
    expect(CONFIG_SCHEMAS.perLinkCampaign.properties.maxRows.default).toBe(settingsOf(PerLinkCampaignSettings, "p", {}).maxRows);
  });

  it("ships a pack folder versioned with this package and depending on exactly it", () => {
    const root = path.join(__dirname, "..", "..");
    const pack = JSON.parse(readFileSync(path.join(root, "policy", "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };
    const own = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
    expect(pack.version).toBe(own.version);
    expect(pack.dependencies["@klarefi/pulumi"]).toBe(own.version);
  });
});
