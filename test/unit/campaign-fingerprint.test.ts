import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CampaignLinksInputs, desiredRows, fingerprint, type LinkState } from "../../provider/campaign/links/inputs";
import type { SessionFields } from "../../provider/session-ops";
import { repoRoot } from "../helpers/pulumi";

// A row's `fp` is stored in every bulk campaign's state: should the hash
// change (another field order, another encoding), every stored row would
// look changed and every link would be reissued. These tests pin it to
// values written by older builds.

/** The bulk campaign of test/fixtures/bulk-9f8ad13, as the package at that commit stored it. */
const FIXTURE = path.join(repoRoot, "test", "fixtures", "bulk-9f8ad13", "state.json");
interface StoredCampaign {
  inputs: Record<string, unknown> & { rows: Record<string, { applicant: string; locale?: string; returnUrl?: string }> };
  outputs: { sessions: Record<string, LinkState> };
}
function fixtureCampaign(): StoredCampaign {
  const state = JSON.parse(readFileSync(FIXTURE, "utf8")) as { deployment: { resources: (StoredCampaign & { type: string })[] } };
  const found = state.deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks");
  if (!found) throw new Error(`no IntakeCampaignLinks in ${FIXTURE}`);
  return found;
}

describe("a bulk row's fingerprint", () => {
  const stored = fixtureCampaign();
  const inputs = stored.inputs as unknown as { caseTypeId: string; locale: string; returnUrl: string };
  const caseIds = Object.keys(stored.inputs.rows);

  it("is the fp the build at 9f8ad13 stored for each of the fixture's 20 rows, with the locale as that build sent it", () => {
    expect(caseIds).toHaveLength(20);
    for (const caseId of caseIds) {
      const row = stored.inputs.rows[caseId] as { applicant: string; locale?: string; returnUrl?: string };
      const fields: SessionFields = {
        case_type_id: inputs.caseTypeId,
        external_case_id: caseId,
        external_applicant_id: row.applicant,
        return_url: row.returnUrl ?? inputs.returnUrl,
        locale: row.locale ?? inputs.locale,
      };
      expect({ caseId, fp: fingerprint(fields, undefined) }).toEqual({ caseId, fp: stored.outputs.sessions[caseId]?.fp });
    }
  });

  it("is what desiredRows gives every fixture row whose locale was already in canonical case", () => {
    const desired = desiredRows(CampaignLinksInputs.parse(stored.inputs));
    const canonical = caseIds.filter((caseId) => ["nl", "fr", undefined].includes(stored.inputs.rows[caseId]?.locale));
    expect(canonical).toHaveLength(16);
    for (const caseId of canonical) expect({ caseId, fp: desired.get(caseId)?.fp }).toEqual({ caseId, fp: stored.outputs.sessions[caseId]?.fp });
  });

  // Computed with the build of dec5fd3, before the request fields became one table.
  const full: SessionFields = {
    case_type_id: "motor_claim",
    external_case_id: "claim_1",
    external_applicant_id: "applicant_1",
    return_url: "https://claims.example.com/r",
    locale: "nl-BE",
    trace_id: "trace-42",
    expires_at: "2027-03-31T00:00:00Z",
  };
  it.each([
    ["every field and a rotation", full, "2027-a", "10741660ec47"],
    ["no return URL, trace id or rotation", { ...full, return_url: undefined, trace_id: undefined }, undefined, "bc14227daaf3"],
    ["only the required fields", { case_type_id: "hail_damage", external_case_id: "x", external_applicant_id: "applicant_01" }, undefined, "9008f06a9a36"],
    ["no locale, another rotation", { ...full, locale: undefined }, "r2", "b498b417949c"],
  ] as const)("is unchanged for a row with %s", (_what, fields, rotation, fp) => {
    expect(fingerprint(fields, rotation)).toBe(fp);
  });

  it("ignores the external case id and the expiry, which a row can change without a new link", () => {
    expect(fingerprint({ ...full, external_case_id: "claim_2", expires_at: "2027-06-30T00:00:00Z" }, "2027-a")).toBe("10741660ec47");
  });
});
