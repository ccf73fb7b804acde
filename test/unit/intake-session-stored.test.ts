import { describe, expect, it } from "vitest";
import { diffIntakeSession, flatInputs, fullOutputs, intakeSessionProvider, storedInputs, storedOutputs, type IntakeSessionOutputs } from "../../provider/intake-session";

/** An expiry `days` from now, to the second: check refuses one in the past. */
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
const EXPIRY = inDays(20);
const SERIALIZED = 'exports.handler = () => require("@klarefi/pulumi/intake-session").intakeSessionProvider;\n';
const args = {
  caseTypeId: "motor_claim",
  externalCaseId: "claim_48392",
  externalApplicantId: "applicant_789",
  locale: "nl",
  expiresAt: EXPIRY,
  keyScope: "proj/dev/claim-48392",
};
const full: IntakeSessionOutputs = {
  sessionId: "ses_1",
  signedUrl: "https://intake.example/i/ses_1?sig=abc",
  status: "open",
  expiresAt: EXPIRY,
  createdAt: "2026-11-28T00:00:00Z",
  idempotencyKey: "pulumi_abc",
  request: { caseTypeId: "motor_claim", externalCaseId: "claim_48392", externalApplicantId: "applicant_789", locale: "nl", expiresAt: EXPIRY },
};

describe("the stored shape of an intake session", () => {
  it("keeps the arguments in one input property and reads them back flat", () => {
    expect(storedInputs(args)).toEqual({ args });
    expect(flatInputs({ __provider: SERIALIZED, args })).toEqual(args);
  });

  it("reads inputs written before the arguments had their own property", () => {
    expect(flatInputs({ __provider: SERIALIZED, ...args })).toEqual(args);
  });

  it("stores only the snapshot, the link, the status and the expiry as outputs", () => {
    expect(storedOutputs(full)).toEqual({ args: full.request, signedUrl: full.signedUrl, status: "open", expiresAt: full.expiresAt });
  });

  it("gives the implementation the session id and the snapshot back from stored outputs", () => {
    const expanded = fullOutputs("ses_1", { __provider: SERIALIZED, ...storedOutputs(full) });
    expect(expanded).toMatchObject({ sessionId: "ses_1", request: full.request, status: "open", signedUrl: full.signedUrl });
    expect(diffIntakeSession(expanded, flatInputs({ args })).changes).toBe(false);
    expect(diffIntakeSession(expanded, flatInputs({ args: { ...args, locale: "fr" } })).replaces).toEqual(["locale"]);
  });

  it.each([
    ["the previous release (a request snapshot and the session id in outputs)", { ...full }],
    ["the first release (the request's fields echoed at top level)", { sessionId: "ses_1", signedUrl: full.signedUrl, status: "open", ...args }],
  ])("diffs state written by %s against new inputs without a change", (_what, olds) => {
    const expanded = fullOutputs("ses_1", olds);
    expect(diffIntakeSession(expanded, flatInputs({ args })).changes).toBe(false);
    expect(diffIntakeSession(expanded, flatInputs({ args: { ...args, externalApplicantId: "applicant_790", reissue: "allow" } })).replaces).toEqual([
      "externalApplicantId",
    ]);
  });
});

describe("the dynamic provider on stored inputs", () => {
  it("checks nested arguments and stores the checked ones nested", async () => {
    const checked = await intakeSessionProvider.check?.({}, { __provider: SERIALIZED, args });
    expect(checked?.failures).toEqual([]);
    expect(checked?.inputs).toEqual({ args });
  });

  it("names the argument a failure is about, and leaves the inputs as given", async () => {
    const news = { __provider: SERIALIZED, args: { ...args, returnUrl: "http://claims.example.com/x" } };
    const checked = await intakeSessionProvider.check?.({}, news);
    expect(checked?.failures?.map((f) => f.property)).toEqual(["returnUrl"]);
    expect(checked?.inputs).toBe(news);
  });

  it("refuses a reissuing change against old inputs in either stored shape", async () => {
    for (const olds of [{ __provider: SERIALIZED, args }, { __provider: SERIALIZED, ...args }]) {
      const checked = await intakeSessionProvider.check?.(olds, { __provider: SERIALIZED, args: { ...args, locale: "fr" } });
      expect(checked?.failures?.map((f) => f.property)).toEqual(["locale"]);
    }
  });

  it("sees no change between stored outputs and the same arguments, without calling the API", async () => {
    const diff = await intakeSessionProvider.diff?.("ses_1", { __provider: SERIALIZED, ...storedOutputs(full) }, { __provider: SERIALIZED, args });
    expect(diff).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it("moves a new expiry in place: a change, no replacement", async () => {
    const diff = await intakeSessionProvider.diff?.(
      "ses_1",
      { __provider: SERIALIZED, ...storedOutputs(full) },
      { __provider: SERIALIZED, args: { ...args, expiresAt: inDays(25) } },
    );
    expect(diff).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });
});
