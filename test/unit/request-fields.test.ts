import { describe, expect, it } from "vitest";
import { REQUEST_FIELD_LIST, ROW_FIELD_LIST } from "../../contract/request-fields";
import { CreateSessionRequest } from "../../contract/schemas";
import { REISSUING_FIELDS } from "../../provider/campaign/links/inputs";
import { parseCampaignCsv } from "../../provider/campaign/rows";
import { klarefiSchema } from "../../provider/plugin/schema";

// The table of request fields (contract/request-fields.ts) is the one place
// a field's names are written; these tests tie what is derived from it to it.

interface Properties {
  [name: string]: { description?: string };
}
interface Resource {
  inputProperties: Properties;
  requiredInputs: string[];
  properties: Properties;
  required: string[];
}
const schema = klarefiSchema("1.2.3") as {
  resources: Record<string, Resource>;
  types: Record<string, { properties: Properties; required: string[] }>;
};
const session = schema.resources["klarefi:index:IntakeSession"] as Resource;
const campaign = schema.resources["klarefi:index:IntakeCampaignLinks"] as Resource;
const campaignRow = schema.types["klarefi:index:CampaignRow"] as { properties: Properties; required: string[] };

/** The properties of the schema that are not request fields: the provider's own. */
const PROVIDER_OWN = {
  sessionInputs: ["idempotencyKey", "rotation", "adoptSessionId", "reissue"],
  sessionOutputs: ["sessionId", "caseId", "signedUrl", "status", "expiresAt", "createdAt", "idempotencyKey", "rotation"],
  campaignInputs: ["rows", "csvFile", "rotation", "reissue", "retainRemovedRows"],
};
const names = (list: readonly { name: string }[]) => list.map((field) => field.name);
const without = (all: readonly string[], own: readonly string[]) => all.filter((name) => !own.includes(name));

describe("the plugin schema's request properties", () => {
  it("are IntakeSession's inputs: every table field under its program name with its description, and no other request input", () => {
    for (const field of REQUEST_FIELD_LIST) expect({ name: field.name, description: session.inputProperties[field.name]?.description }).toEqual({ name: field.name, description: field.doc });
    expect(without(Object.keys(session.inputProperties), PROVIDER_OWN.sessionInputs)).toEqual(names(REQUEST_FIELD_LIST));
    expect(session.requiredInputs).toEqual(names(REQUEST_FIELD_LIST.filter((field) => field.required)));
  });

  it("are IntakeSession's outputs for every field it echoes, required where the field is", () => {
    const echoed = REQUEST_FIELD_LIST.filter((field) => field.echo);
    expect(without(Object.keys(session.properties), PROVIDER_OWN.sessionOutputs)).toEqual(names(echoed));
    for (const field of echoed) expect(session.required.includes(field.name)).toBe(field.required);
  });

  it("are the bulk campaign's settings and defaults under their program names, and no other request input", () => {
    const campaignWide = REQUEST_FIELD_LIST.filter((field) => ["setting", "row or default", "default"].includes(field.campaign));
    expect(without(Object.keys(campaign.inputProperties), PROVIDER_OWN.campaignInputs).sort()).toEqual(names(campaignWide).sort());
    expect(campaign.requiredInputs).toEqual(names(REQUEST_FIELD_LIST.filter((field) => field.campaign === "setting")));
  });

  it("are a campaign row's properties under the row names the bulk rows store (applicant, locale, returnUrl, …)", () => {
    expect(Object.keys(campaignRow.properties).slice(0, 3)).toEqual(["applicant", "locale", "returnUrl"]);
    expect(Object.keys(campaignRow.properties)).toEqual(ROW_FIELD_LIST.map((field) => field.row.name));
    expect(campaignRow.required).toEqual(ROW_FIELD_LIST.filter((field) => field.required).map((field) => field.row.name));
  });

  it("name the campaign CSV's columns in csvFile's description", () => {
    expect(campaign.inputProperties.csvFile?.description).toContain("(`external_case_id,external_applicant_id` and optional `locale`, `return_url`)");
  });
});

describe("the table of request fields", () => {
  it("is the create request's body on the wire, with the idempotency key", () => {
    expect(Object.keys(CreateSessionRequest.shape).sort()).toEqual([...REQUEST_FIELD_LIST.map((field) => field.wire), "idempotency_key"].sort());
  });

  it("gives the fingerprint the five fields stored fps were hashed with, in that order, before any field added later", () => {
    expect(REISSUING_FIELDS.slice(0, 5)).toEqual(["case_type_id", "external_applicant_id", "return_url", "locale", "trace_id"]);
  });

  it("gives the row fields the cells 1, 2, 3, … of the packed rows, and distinct names", () => {
    expect(ROW_FIELD_LIST.map((field) => field.row.cell)).toEqual(ROW_FIELD_LIST.map((_, i) => i + 1));
    expect(new Set(REQUEST_FIELD_LIST.map((field) => field.wire)).size).toBe(REQUEST_FIELD_LIST.length);
    expect(new Set(ROW_FIELD_LIST.map((field) => field.row.name)).size).toBe(ROW_FIELD_LIST.length);
  });

  it("names the campaign CSV's columns by wire name or program name", () => {
    const csv = "external_case_id,ExternalApplicantId,LOCALE,returnUrl\nclaim_1,applicant_1,NL,https://claims.example.com/1\n";
    expect(parseCampaignCsv(csv)).toEqual([
      { externalCaseId: "claim_1", externalApplicantId: "applicant_1", locale: "nl", returnUrl: "https://claims.example.com/1", line: 2 },
    ]);
    expect(() => parseCampaignCsv("external_case_id,channel\nclaim_1,web\n")).toThrow(
      'unknown column "channel" (expected external_case_id, external_applicant_id, locale, return_url)',
    );
  });
});
