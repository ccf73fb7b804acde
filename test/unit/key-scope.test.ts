import { describe, expect, it } from "vitest";
import { desiredRows } from "../../provider/campaign/links/inputs";
import { logicalNameFor } from "../../provider/campaign/rows";
import { baseIdempotencyKey, campaignRowName, keyScope } from "../../provider/idempotency";
import { apiFields, IntakeSessionInputs } from "../../provider/intake-session/inputs";
import { keyScopeFromUrn } from "../../provider/plugin/values";

/**
 * The key-scope rule (provider/idempotency.ts): one project, stack and name
 * give one key scope whichever way the resource was declared, and a campaign
 * row has the same scope, and so the same keys, in per-link and bulk mode.
 */

describe("keyScope", () => {
  it.each([
    ["claims", "dev", "claim-48392", "claims/dev/claim-48392"],
    ["hail", "prod-eu", "hail-2027", "hail/prod-eu/hail-2027"],
    ["hail", "prod-eu", "hail-2027-claim_1", "hail/prod-eu/hail-2027-claim_1"],
  ])("is project/stack/name for %s, %s, %s", (project, stack, name, scope) => {
    expect(keyScope(project, stack, name)).toBe(scope);
  });

  it("is what the plugin reads from a URN, so a YAML or Python resource derives the keys of a TypeScript one", () => {
    expect(keyScopeFromUrn("urn:pulumi:prod-eu::hail::klarefi:index:IntakeSession::hail-2027-claim_1")).toBe(keyScope("hail", "prod-eu", "hail-2027-claim_1"));
  });
});

describe("a campaign row's key scope in both modes", () => {
  const caseIds = ["claim_1", "claim 2/ä", "CLAIM.3-x", "claim:4"];

  it.each(caseIds)("is the same for row %s in per-link mode (an IntakeSession named campaign-row) and in bulk mode", (caseId) => {
    const perLinkName = campaignRowName("hail-2027", logicalNameFor(caseId));
    const perLink = keyScope("hail", "prod-eu", perLinkName);
    const bulk = desiredRows({ keyScope: keyScope("hail", "prod-eu", "hail-2027"), caseTypeId: "hail_damage", rows: { [caseId]: { applicant: "applicant_1" } } }).get(caseId);
    expect(bulk?.scope).toBe(perLink);
  });

  it("derives the same idempotency key for a row in both modes", () => {
    const caseId = "claim 2/ä";
    const bulk = desiredRows({
      keyScope: keyScope("hail", "prod-eu", "hail-2027"),
      caseTypeId: "hail_damage",
      locale: "de",
      rows: { [caseId]: { applicant: "applicant_2" } },
    }).get(caseId);
    const perLink = IntakeSessionInputs.parse({
      caseTypeId: "hail_damage",
      externalCaseId: caseId,
      externalApplicantId: "applicant_2",
      locale: "de",
      keyScope: keyScope("hail", "prod-eu", campaignRowName("hail-2027", logicalNameFor(caseId))),
    });
    expect(bulk).toBeDefined();
    const bulkKey = baseIdempotencyKey({ scope: bulk?.scope ?? "", fields: bulk?.fields ?? {} });
    expect(baseIdempotencyKey({ scope: perLink.keyScope, fields: apiFields(perLink) })).toBe(bulkKey);
  });

  it("is the campaign's name and the row's logical name joined by a dash", () => {
    expect(campaignRowName("hail-2027", "claim_1")).toBe("hail-2027-claim_1");
    expect(campaignRowName(keyScope("hail", "dev", "hail-2027"), "claim_1")).toBe(keyScope("hail", "dev", campaignRowName("hail-2027", "claim_1")));
  });
});
