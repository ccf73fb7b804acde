import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { KlarefiValidationError } from "../../client/errors";
import { Klarefi } from "../../client/klarefi";
import { expiryProblem, fields, MAX_EXPIRY_DAYS } from "../../contract/fields";
import { fieldProblems, firstProblem, issueMessage } from "../../contract/messages";
import { ErrorBody } from "../../contract/schemas";
import { CampaignRowsError, validateCampaignRows } from "../../provider/campaign/rows";
import { checkIntakeSessionInputs } from "../../provider/intake-session/policy";
import { startInProcessServer, type InProcessServer } from "../helpers/in-process";

/**
 * One rule, one wording: the server's validation (its route, in process), the
 * client's pre-flight check and the provider's `check` refuse the same bad
 * values with the same words, up to the spelling of the field's name
 * (`case_type_id` on the wire, `caseTypeId` in a Pulumi program).
 */

const DAY_MS = 86_400_000;
const future = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString().replace(/\.\d{3}Z$/, "Z");
const FAR = future(MAX_EXPIRY_DAYS + 30);

/** [what, wire field, provider property, bad value, the words after the field's name]. */
const BAD_VALUES: [string, string, string, unknown, string][] = [
  ["a case type with capitals and a space", "case_type_id", "caseTypeId", "Motor Claim", "must be lower-case letters, digits and underscores, starting with a letter"],
  ["a missing case type", "case_type_id", "caseTypeId", undefined, "is required"],
  ["the locale nl_NL", "locale", "locale", "nl_NL", 'must be a BCP 47 language tag such as "nl" or "nl-BE"'],
  ["an http:// return URL", "return_url", "returnUrl", "http://claims.example.com/claim_48392", "must be an absolute https:// URL (http:// is allowed only for localhost)"],
  ["a 256-character case reference", "external_case_id", "externalCaseId", "c".repeat(256), "must be at most 255 characters"],
  ["a blank applicant reference", "external_applicant_id", "externalApplicantId", "   ", "must not be empty"],
  ["a trace id with spaces", "trace_id", "traceId", "trace id with spaces", "must be 1 to 128 printable ASCII characters without spaces"],
  ["an expiry that is not a timestamp", "expires_at", "expiresAt", "next tuesday", "must be an RFC 3339 timestamp such as 2027-03-31T00:00:00Z"],
  ["an expiry in the past", "expires_at", "expiresAt", "2020-01-01T00:00:00Z", `2020-01-01T00:00:00Z is in the past; choose a future time at most ${MAX_EXPIRY_DAYS} days ahead`],
  ["an expiry too far ahead", "expires_at", "expiresAt", FAR, `${FAR} is more than ${MAX_EXPIRY_DAYS} days ahead; choose a time at most ${MAX_EXPIRY_DAYS} days ahead`],
];

const WIRE_BODY = {
  case_type_id: "motor_claim",
  external_case_id: "claim_48392",
  external_applicant_id: "applicant_789",
};
const PROVIDER_INPUTS = {
  caseTypeId: "motor_claim",
  externalCaseId: "claim_48392",
  externalApplicantId: "applicant_789",
  keyScope: "project/stack/claim-48392",
};

function withValue(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...base };
  if (value === undefined) delete copy[field];
  else copy[field] = value;
  return copy;
}

let server: InProcessServer;
let client: Klarefi;
let keyCounter = 0;
beforeAll(() => {
  server = startInProcessServer();
  client = new Klarefi({ apiKey: server.apiKey, baseUrl: server.baseUrl, dispatcher: server.dispatcher, maxRetries: 0 });
});
afterAll(async () => {
  await client?.close();
  await server?.close();
});

async function serverSays(body: Record<string, unknown>): Promise<{ status: number; param?: string; message: string }> {
  const res = await server.app.request(`${server.baseUrl}/api/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const { error } = ErrorBody.parse(await res.json());
  return { status: res.status, ...(error.param === undefined ? {} : { param: error.param }), message: error.message };
}

describe("the same bad value is refused with the same words everywhere", () => {
  it.each(BAD_VALUES)("%s", async (_what, wire, property, value, words) => {
    keyCounter += 1;
    const body = withValue({ ...WIRE_BODY, idempotency_key: `contract_words_${keyCounter}` }, wire, value);

    const fromServer = await serverSays(body);
    expect(fromServer.param).toBe(wire);
    expect(fromServer.message.replace(/\.$/, "")).toBe(`${wire} ${words}`);

    // The client checks the rules before sending and leaves the clock to the server, whose words it relays.
    const clientError = await client.sessions.create(body as never).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(clientError).toBeInstanceOf(KlarefiValidationError);
    const clientWords = (clientError as Error).message
      .replace(/^Creating intake session failed: (\d{3} )?/, "")
      .replace(/ \((checked before sending|request req_\w+)\)$/, "")
      .replace(/\.$/, "");
    expect(clientWords).toBe(`${wire} ${words}`);

    const checked = checkIntakeSessionInputs({}, withValue(PROVIDER_INPUTS, property, value));
    expect(checked.failures).toEqual([{ property, reason: `${property} ${words}` }]);
  });

  it.each([
    ["the locale nl_NL", { locale: "nl_NL" }, 'locale must be a BCP 47 language tag such as "nl" or "nl-BE"'],
    ["an http:// return URL", { returnUrl: "http://claims.example.com/x" }, "return_url must be an absolute https:// URL (http:// is allowed only for localhost)"],
    ["a 256-character case reference", { externalCaseId: "c".repeat(256) }, "external_case_id must be at most 255 characters"],
  ])("a campaign row with %s is refused in the CSV column's name", (_what, change, message) => {
    let error: unknown;
    try {
      validateCampaignRows([{ externalCaseId: "c1", externalApplicantId: "a1", ...change }], "applicants.csv", "csv");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CampaignRowsError);
    expect((error as CampaignRowsError).problems).toEqual([`line 1: ${message}`]);
  });
});

describe("field rules", () => {
  it.each([
    ["caseTypeId", "motor_claim", true],
    ["caseTypeId", "a".repeat(64), true],
    ["caseTypeId", "a".repeat(65), false],
    ["caseTypeId", "1motor", false],
    ["locale", "nl", true],
    ["locale", "zh-Hant-TW", true],
    ["locale", "nl_NL", false],
    ["returnUrl", "http://localhost:3000/done", true],
    ["returnUrl", "https://x.example/" + "p".repeat(2048), false],
    ["traceId", "t".repeat(128), true],
    ["traceId", "t".repeat(129), false],
    ["timestamp", "2027-03-31T02:00:00+02:00", true],
    ["timestamp", "2027-03-31T00:00:00", false],
    ["sessionId", "ses_abc-DEF_123", true],
    ["sessionId", "ses/../x", false],
  ] as const)("fields.%s(name) judges %j as valid: %s", (rule, value, valid) => {
    expect(fields[rule]("name").safeParse(value).success).toBe(valid);
  });

  it("names the field as the caller spells it in every message", () => {
    expect(fields.locale("locale").safeParse("nl_NL").error?.issues[0]?.message).toMatch(/^locale /);
    expect(fields.locale("CSV column locale").safeParse("nl_NL").error?.issues[0]?.message).toMatch(/^CSV column locale /);
  });

  it("says nothing against an expiry inside the window, by the clock it is given", () => {
    const now = Date.parse("2027-01-01T00:00:00Z");
    expect(expiryProblem("expires_at", "2027-01-01T00:00:01Z", now)).toBeUndefined();
    expect(expiryProblem("expires_at", "2027-01-01T00:00:00Z", now)).toMatch(/is in the past/);
    expect(expiryProblem("expires_at", "2028-01-02T00:00:00Z", now)).toMatch(/more than 365 days ahead/);
  });
});

describe("the problem helper", () => {
  const schema = fields.text("external_case_id");

  it("says a missing field is required and otherwise keeps the rule's own message", () => {
    const object = z.object({ external_case_id: schema, locale: fields.locale("locale").optional() });
    const input = { locale: "nl_NL" };
    const result = object.safeParse(input);
    expect(result.success).toBe(false);
    expect(fieldProblems(result.error!, input)).toEqual([
      { field: "external_case_id", message: "external_case_id is required" },
      { field: "locale", message: 'locale must be a BCP 47 language tag such as "nl" or "nl-BE"' },
    ]);
  });

  it("does not call a value of the wrong type missing", () => {
    const object = z.object({ external_case_id: schema });
    const input = { external_case_id: 42 };
    const issue = object.safeParse(input).error!.issues[0]!;
    expect(issueMessage(issue, input)).toBe("external_case_id must be a string");
  });

  it("puts the field's name in front of zod's own messages and reports an unknown field first", () => {
    const object = z.strictObject({ status: z.enum(["open", "revoked"]) });
    const input = { status: "gone", colour: "red" };
    const result = object.safeParse(input);
    expect(firstProblem(result.error!, input)).toEqual({ field: "colour", message: "unknown field: colour" });
    const statusIssue = result.error!.issues.find((i) => i.path[0] === "status")!;
    expect(issueMessage(statusIssue, input)).toMatch(/^status: Invalid option/);
  });
});
