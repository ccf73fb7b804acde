import { describe, expect, it } from "vitest";
import { baseIdempotencyKey, keyForGeneration, MAX_KEY_GENERATIONS, nextStep } from "../../provider/idempotency";
import { checkIntakeSessionInputs, diffIntakeSession } from "../../provider/intake-session";

const fields = {
  case_type_id: "motor_claim",
  external_case_id: "claim_48392",
  external_applicant_id: "applicant_789",
  return_url: undefined,
  locale: "nl",
};
const identity = { scope: "proj/dev/claim-48392", fields };

describe("idempotency key derivation", () => {
  it("gives the same key for the same resource and inputs, every time", () => {
    expect(baseIdempotencyKey(identity)).toBe(baseIdempotencyKey({ ...identity, fields: { ...fields } }));
    expect(baseIdempotencyKey(identity)).toMatch(/^pulumi_[0-9a-f]{40}$/);
  });

  it.each([
    ["another logical name", { ...identity, scope: "proj/dev/claim-48393" }],
    ["another stack", { ...identity, scope: "proj/prod/claim-48392" }],
    ["another project", { ...identity, scope: "other/dev/claim-48392" }],
    ["a rotation label", { ...identity, rotation: "2027-spring" }],
    ["a changed locale", { ...identity, fields: { ...fields, locale: "fr" } }],
    ["a new return_url", { ...identity, fields: { ...fields, return_url: "https://x.example/1" } }],
  ])("changes the key for %s", (_what, other) => {
    expect(baseIdempotencyKey(other)).not.toBe(baseIdempotencyKey(identity));
  });

  it("ignores the order of fields and absent fields", () => {
    const reordered = { locale: "nl", external_applicant_id: "applicant_789", external_case_id: "claim_48392", case_type_id: "motor_claim" };
    expect(baseIdempotencyKey({ ...identity, fields: reordered })).toBe(baseIdempotencyKey(identity));
  });

  it("uses a user-supplied key verbatim", () => {
    expect(baseIdempotencyKey(identity, "session_claim_48392")).toBe("session_claim_48392");
  });

  it.each([
    [1, "k"],
    [2, "k~2"],
    [25, "k~25"],
  ])("sends generation %i as %s", (generation, expected) => {
    expect(keyForGeneration("k", generation)).toBe(expected);
  });

  it("refuses generation 0", () => {
    expect(() => keyForGeneration("k", 0)).toThrow(/from 1, got 0/);
  });

  it.each([
    [{ kind: "open" } as const, 1, "adopt"],
    [{ kind: "open" } as const, MAX_KEY_GENERATIONS, "adopt"],
    [{ kind: "replayed-closed", status: "revoked" } as const, 1, "next"],
    [{ kind: "replayed-closed", status: "expired" } as const, 3, "next"],
    [{ kind: "key-reused-with-other-body" } as const, 1, "next"],
    [{ kind: "replayed-closed", status: "revoked" } as const, MAX_KEY_GENERATIONS, "give-up"],
  ])("after %o at generation %i the walk says %s", (outcome, generation, expected) => {
    expect(nextStep(outcome, generation)).toBe(expected);
  });
});

const request = {
  caseTypeId: "motor_claim",
  externalCaseId: "claim_48392",
  externalApplicantId: "applicant_789",
  locale: "nl",
};

describe("diff", () => {
  const olds = { ...request, keyScope: "p/s/n", __provider: "old code", request: { ...request }, sessionId: "ses_1", expiresAt: "2027-01-01T00:00:00.000Z" };

  it("reports no change for identical inputs, even when the provider code and key scope changed", () => {
    expect(diffIntakeSession(olds, { ...request, keyScope: "p/renamed/n", __provider: "new code" })).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  it.each([
    ["locale", { locale: "fr" }],
    ["returnUrl", { returnUrl: "https://claims.example.com/x" }],
    ["caseTypeId", { caseTypeId: "home_claim" }],
    ["rotation", { rotation: "2027-spring" }],
    ["idempotencyKey", { idempotencyKey: "mine" }],
    ["traceId", { traceId: "trace-1" }],
  ])("replaces the session, new one first, when %s changes", (property, change) => {
    expect(diffIntakeSession(olds, { ...request, ...change })).toEqual({ changes: true, replaces: [property], deleteBeforeReplace: false });
  });

  it("moves the deadline in place, keeping the link, when only expiresAt changes", () => {
    expect(diffIntakeSession(olds, { ...request, expiresAt: "2027-03-31T00:00:00Z" })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it.each([
    ["locale", { locale: "fr" }],
    ["returnUrl", { returnUrl: "https://claims.example.com/x" }],
    ["caseTypeId", { caseTypeId: "home_claim" }],
  ])("keeps a completed session, updating in place, when %s changes", (_property, change) => {
    expect(diffIntakeSession({ ...olds, status: "completed" }, { ...request, ...change })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("reissues a completed session only when rotation asks for it", () => {
    expect(diffIntakeSession({ ...olds, status: "completed" }, { ...request, locale: "fr", rotation: "r2" }).replaces).toEqual(["locale", "rotation"]);
  });

  it("compares against the requested expiry, not the one the API chose", () => {
    expect(diffIntakeSession(olds, { ...request }).changes).toBe(false);
  });

  it("treats the same instant written two ways as the same expiry", () => {
    const at = { ...olds, request: { ...request, expiresAt: "2027-03-31T00:00:00Z" } };
    expect(diffIntakeSession(at, { ...request, expiresAt: "2027-03-31T00:00:00.000Z" }).changes).toBe(false);
    expect(diffIntakeSession(at, { ...request, expiresAt: "2027-03-31T02:00:00+02:00" }).changes).toBe(false);
    expect(diffIntakeSession(at, { ...request, expiresAt: "2027-04-01T00:00:00Z" })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("does not replace on the API's own expiry and key when older state lacks the request snapshot", () => {
    const legacy = { ...request, expiresAt: "2027-01-01T00:00:00Z", idempotencyKey: "pulumi_abc", sessionId: "ses_1" };
    expect(diffIntakeSession(legacy, { ...request }).changes).toBe(false);
    expect(diffIntakeSession(legacy, { ...request, idempotencyKey: "mine" }).replaces).toEqual(["idempotencyKey"]);
  });

  it("reads state written before the request snapshot existed", () => {
    const legacy = { ...request, sessionId: "ses_1" };
    expect(diffIntakeSession(legacy, { ...request }).changes).toBe(false);
    expect(diffIntakeSession(legacy, { ...request, locale: "de" }).replaces).toEqual(["locale"]);
  });
});

describe("the reissue guard in check", () => {
  const now = new Date("2026-11-27T00:00:00Z");
  const old = { ...request, keyScope: "p/s/n" };

  it("refuses a change that needs a new link, naming the field and the way to ask for it", () => {
    const result = checkIntakeSessionInputs(old, { ...old, locale: "fr" }, now);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.property).toBe("locale");
    expect(result.failures[0]?.reason).toMatch(/^This change would revoke and reissue 1 live link \(claim_48392\): a new locale needs a new link/);
    expect(result.failures[0]?.reason).toContain('set reissue: "allow"');
  });

  it.each([
    ["a first create", {}, { ...old, locale: "fr" }],
    ["reissue allowed", old, { ...old, locale: "fr", reissue: "allow" }],
    ["a new rotation", old, { ...old, locale: "fr", rotation: "r2" }],
    ["a new idempotencyKey", old, { ...old, locale: "fr", idempotencyKey: "mine" }],
    ["a new expiry", old, { ...old, expiresAt: "2027-03-31T00:00:00Z" }],
  ])("lets %s through", (_what, olds, news) => {
    expect(checkIntakeSessionInputs(olds, news, now).failures).toEqual([]);
  });
});

describe("check", () => {
  const valid = { ...request, keyScope: "p/s/n" };
  const now = new Date("2026-11-27T00:00:00Z");

  it("accepts the documentation's example and trims references", () => {
    const result = checkIntakeSessionInputs({}, { ...valid, externalCaseId: "  claim_48392 ", returnUrl: "https://claims.example.com/claim_48392" }, now);
    expect(result.failures).toEqual([]);
    expect(result.inputs.externalCaseId).toBe("claim_48392");
  });

  it.each([
    ["returnUrl", { returnUrl: "http://claims.example.com/x" }, /https/],
    ["returnUrl", { returnUrl: "not a url" }, /https/],
    ["locale", { locale: "dutch language" }, /BCP 47/],
    ["externalCaseId", { externalCaseId: "" }, /must not be empty/],
    ["externalApplicantId", { externalApplicantId: "x".repeat(256) }, /at most 255/],
    ["caseTypeId", { caseTypeId: "Motor Claim" }, /lower-case/],
    ["expiresAt", { expiresAt: "2020-01-01T00:00:00Z" }, /in the past/],
    ["expiresAt", { expiresAt: "2030-01-01T00:00:00Z" }, /more than 365 days/],
    ["expiresAt", { expiresAt: "tomorrow" }, /RFC 3339/],
    ["idempotencyKey", { idempotencyKey: "k".repeat(241) }, /at most 240/],
  ])("refuses a bad %s with a reason that says what to fix", (property, change, reason) => {
    const result = checkIntakeSessionInputs({}, { ...valid, ...change }, now);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.property).toBe(property);
    expect(result.failures[0]?.reason).toMatch(reason);
  });

  it("names each missing required property once", () => {
    const result = checkIntakeSessionInputs({}, { keyScope: "p/s/n" }, now);
    expect(result.failures.map((f) => f.property).sort()).toEqual(["caseTypeId", "externalApplicantId", "externalCaseId"]);
    expect(result.failures.every((f) => f.reason.endsWith("is required"))).toBe(true);
  });

  it("keeps accepting an expiry that has passed since the session was created", () => {
    const expiresAt = "2026-01-01T00:00:00Z";
    expect(checkIntakeSessionInputs({ ...valid, expiresAt }, { ...valid, expiresAt }, now).failures).toEqual([]);
  });
});
