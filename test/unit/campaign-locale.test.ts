import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalLocale, fields } from "../../contract/fields";
import { fingerprintMatches, localeHasher, localeSpellings, MAX_ENUMERATED_LETTERS, MAX_SUBTAG_SPELLINGS } from "../../provider/campaign/links/fingerprint";
import { CampaignLinksInputs, desiredRows, fingerprint, type LinkState } from "../../provider/campaign/links/inputs";
import { planCampaign, reissuingFieldChanges } from "../../provider/campaign/links/plan";
import { checkIntakeSessionInputs, diffIntakeSession } from "../../provider/intake-session/policy";
import { repoRoot } from "../helpers/pulumi";

describe("a locale in canonical case", () => {
  it.each([
    ["NL", "nl"],
    ["nl", "nl"],
    ["nl-nl", "nl-NL"],
    ["NL-NL", "nl-NL"],
    ["nL-Be", "nl-BE"],
    ["zh-hant-tw", "zh-Hant-TW"],
    ["ZH-HANT-TW", "zh-Hant-TW"],
    ["sr-latn-rs", "sr-Latn-RS"],
    ["es-419", "es-419"],
    ["sgn-be-fr", "sgn-BE-FR"],
    ["EN-us-X-Twain", "en-US-x-twain"],
    ["az-latn-x-latn", "az-Latn-x-latn"],
    ["de-de-1996", "de-DE-1996"],
    ["iw", "iw"], // only the case changes: no alias is replaced (Intl would answer "he")
  ])("writes %s as %s", (tag, canonical) => {
    expect(canonicalLocale(tag)).toBe(canonical);
  });

  it.each(["NL", "nl-nl", "zh-hant-tw", "EN-us-X-Twain", "sr-latn-rs", "es-419", "pt-br", "DE-CH-1996"])(
    "agrees with Intl.getCanonicalLocales on %s",
    (tag) => {
      expect(canonicalLocale(tag)).toBe(Intl.getCanonicalLocales(tag)[0]);
    },
  );

  it("is what the provider's locale rule answers, after the same check as the wire's", () => {
    expect(fields.canonicalLocale("locale").parse("nl-nl")).toBe("nl-NL");
    expect(fields.locale("locale").parse("nl-nl")).toBe("nl-nl");
    expect(fields.canonicalLocale("locale").safeParse("nl_NL").error?.issues[0]?.message).toBe(
      fields.locale("locale").safeParse("nl_NL").error?.issues[0]?.message,
    );
  });
});

describe("the locale's other spellings", () => {
  it("are every upper and lower case combination of a short tag's letters", () => {
    const spellings = [...localeSpellings("nl-NL")];
    expect(spellings).toHaveLength(16);
    expect(new Set(spellings).size).toBe(16);
    expect(spellings).toEqual(expect.arrayContaining(["nl-nl", "NL-NL", "nL-Nl", "nl-NL"]));
  });

  it(`are each subtag in lower, upper or title case for a tag of more than ${MAX_ENUMERATED_LETTERS} letters`, () => {
    const spellings = [...localeSpellings("zh-Hant-TW")];
    expect(new Set(spellings).size).toBe(3 ** 3);
    expect(spellings).toEqual(expect.arrayContaining(["zh-hant-tw", "ZH-HANT-TW", "Zh-Hant-Tw", "zh-Hant-TW", "ZH-hant-Tw"]));
  });

  it(`are at most ${MAX_SUBTAG_SPELLINGS} for a tag of many subtags, the whole tag in each case among them`, () => {
    const spellings = [...localeSpellings("en-US-x-twain-scouse")];
    expect(spellings).toHaveLength(MAX_SUBTAG_SPELLINGS);
    expect(spellings).toEqual(expect.arrayContaining(["en-us-x-twain-scouse", "EN-US-X-TWAIN-SCOUSE", "En-Us-X-Twain-Scouse", "EN-us-X-Twain-scouse"]));
  });

  it("are hashed exactly as fingerprint hashes the row with that locale", () => {
    const fields = { case_type_id: "hail_damage", external_case_id: "c1", external_applicant_id: 'a "1"', return_url: "https://x.example/", locale: "nl", trace_id: "t-1" };
    for (const rotation of [undefined, "2027-b"]) {
      const hashWith = localeHasher(fields, rotation, fingerprint(fields, rotation));
      for (const spelling of ["NL", "nl-nl", 'x"y']) expect(hashWith(spelling)).toBe(fingerprint({ ...fields, locale: spelling }, rotation));
    }
    // A desired fingerprint the cut does not reproduce: the hasher falls back to fingerprint itself.
    expect(localeHasher(fields, undefined, "not-the-same")("NL")).toBe(fingerprint({ ...fields, locale: "NL" }, undefined));
  });
});

describe("a stored fingerprint of a locale written in another case", () => {
  const fieldsWith = (locale: string | undefined) => ({
    case_type_id: "hail_damage",
    external_case_id: "hail_03",
    external_applicant_id: "applicant_03",
    return_url: "https://claims.example.com/hail",
    locale,
  });
  const matches = (storedLocale: string | undefined, locale: string | undefined, options: { storedRotation?: string; rotation?: string; applicant?: string } = {}) => {
    const stored = fingerprint(fieldsWith(storedLocale), options.storedRotation);
    const fields = { ...fieldsWith(locale), ...(options.applicant === undefined ? {} : { external_applicant_id: options.applicant }) };
    return fingerprintMatches(stored, fingerprint(fields, options.rotation), fields, options.rotation);
  };

  it.each([
    ["NL", "nl"],
    ["nl", "nl"],
    ["nl-nl", "nl-NL"],
    ["NL-nl", "nl-NL"],
    ["nL-Nl", "nl-NL"],
    ["ZH-hant-Tw", "zh-Hant-TW"],
    ["EN-US-X-TWAIN-SCOUSE", "en-US-x-twain-scouse"],
  ])("matches: stored %s, now %s", (stored, now) => {
    expect(matches(stored, now)).toBe(true);
  });

  it.each([
    ["another language", "NL", "fr", {}],
    ["a region added", "nl", "nl-BE", {}],
    ["a locale removed", "NL", undefined, {}],
    ["a locale added", undefined, "nl", {}],
    ["another applicant", "NL", "nl", { applicant: "applicant_99" }],
    ["a new rotation", "NL", "nl", { rotation: "2027-b" }],
    ["mixed case inside a subtag of a tag of more than six letters (the bound)", "zh-hAnt-tw", "zh-Hant-TW", {}],
  ] as const)("does not match %s (stored %s, now %s)", (_what, stored, now, options) => {
    expect(matches(stored, now, options)).toBe(false);
  });
});

/** The bulk campaign of test/fixtures/bulk-9f8ad13, as the package at that commit stored it. */
const FIXTURE = path.join(repoRoot, "test", "fixtures", "bulk-9f8ad13", "state.json");
interface StoredResource {
  type: string;
  inputs: Record<string, unknown>;
  outputs: { sessions: Record<string, LinkState>; rotation?: string };
}
function fixtureCampaign(): StoredResource {
  const state = JSON.parse(readFileSync(FIXTURE, "utf8")) as { deployment: { resources: StoredResource[] } };
  const found = state.deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks");
  if (!found) throw new Error(`no IntakeCampaignLinks in ${FIXTURE}`);
  return found;
}

describe("a bulk campaign stored with locales as written (test/fixtures/bulk-9f8ad13)", () => {
  const stored = fixtureCampaign();
  const olds = stored.inputs;
  const rows = olds.rows as Record<string, { applicant: string; locale?: string }>;
  const checked = CampaignLinksInputs.parse(olds);
  const none = { create: [], reissue: [], extend: [], keepCompleted: [], revoke: [], forget: [] };

  it("holds rows written NL, nl and nl-nl", () => {
    expect([rows.hail_03?.locale, rows.hail_04?.locale, rows.hail_06?.locale, rows.hail_09?.locale]).toEqual(["NL", "NL", "nl", "nl-nl"]);
    expect(stored.outputs.sessions.hail_04?.status).toBe("completed");
  });

  it("sends those rows' locales in canonical case now, and plans no change for any row", () => {
    const desired = desiredRows(checked);
    expect(desired.get("hail_03")?.fields.locale).toBe("nl");
    expect(desired.get("hail_09")?.fields.locale).toBe("nl-NL");
    expect(planCampaign(stored.outputs.sessions, desired, { rotated: false, retainRemovedRows: false })).toEqual(none);
  });

  it("plans no change and refuses nothing when a row's locale changes case only, over the default or its own", () => {
    const news = CampaignLinksInputs.parse({
      ...olds,
      rows: { ...rows, hail_01: { applicant: "applicant_01", locale: "NL" }, hail_03: { applicant: "applicant_03", locale: "nl" }, hail_04: { applicant: "applicant_04" }, hail_09: { applicant: "applicant_09", locale: "NL-NL" } },
    });
    expect(reissuingFieldChanges(olds, news)).toEqual([]);
    expect(planCampaign(stored.outputs.sessions, desiredRows(news), { rotated: false, retainRemovedRows: false })).toEqual(none);
  });

  it("still reissues a row whose locale really changed, and only that row", () => {
    const news = CampaignLinksInputs.parse({ ...olds, rows: { ...rows, hail_03: { applicant: "applicant_03", locale: "fr" } }, reissue: "allow" });
    expect(planCampaign(stored.outputs.sessions, desiredRows(news), { rotated: false, retainRemovedRows: false })).toEqual({ ...none, reissue: ["hail_03"] });
  });
});

describe("an intake session's locale", () => {
  const request = { caseTypeId: "motor_claim", externalCaseId: "claim_1", externalApplicantId: "applicant_1" };
  const now = new Date("2026-11-27T00:00:00Z");

  it("is checked into canonical case, so it is sent so", () => {
    const result = checkIntakeSessionInputs({}, { ...request, locale: "nl-nl", keyScope: "p/s/n" }, now);
    expect(result.failures).toEqual([]);
    expect((result.inputs as { locale?: string }).locale).toBe("nl-NL");
  });

  it("is no change when only its case differs from the stored request, and no reissue is refused", () => {
    const olds = { ...request, locale: "NL", keyScope: "p/s/n", request: { ...request, locale: "NL" }, sessionId: "ses_1" };
    expect(diffIntakeSession(olds, { ...request, locale: "nl" })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(checkIntakeSessionInputs(olds, { ...request, locale: "nl", keyScope: "p/s/n" }, now).failures).toEqual([]);
    expect(diffIntakeSession(olds, { ...request, locale: "fr" }).replaces).toEqual(["locale"]);
  });
});
