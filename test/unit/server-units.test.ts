import { describe, expect, it } from "vitest";
import { renderIntakePage, renderLinkProblemPage, renderSubmittedPage } from "../../server/hosted-page";
import {
  apiKeyScope,
  buildSignedUrl,
  effectiveStatus,
  formatTimestamp,
  KlarefiStore,
  routeTemplate,
  ServerClock,
  type SessionRecord,
  signLink,
  verifyLink,
} from "../../server";

const SECRET = "test-secret";

describe("signed links", () => {
  const exp = 1_900_000_000;
  const sig = signLink(SECRET, "ses_abc", exp);

  it("signs session_id.exp with HMAC-SHA256 as 64 hex characters", () => {
    expect(sig).toMatch(/^[0-9a-f]{64}$/);
    expect(buildSignedUrl("http://127.0.0.1:1", SECRET, "ses_abc", exp)).toBe(`http://127.0.0.1:1/i/ses_abc?exp=${exp}&sig=${sig}`);
  });

  it.each([
    ["the signed values", "ses_abc", String(exp), sig, true],
    ["another session", "ses_abd", String(exp), sig, false],
    ["another expiry", "ses_abc", String(exp + 1), sig, false],
    ["an expiry with a leading zero", "ses_abc", `0${exp}`, sig, false],
    ["an upper-case signature", "ses_abc", String(exp), sig.toUpperCase(), false],
    ["a short signature", "ses_abc", String(exp), sig.slice(0, 62), false],
    ["no signature", "ses_abc", String(exp), undefined, false],
    ["no expiry", "ses_abc", undefined, sig, false],
  ])("verifies %s as %s", (_what, id, e, s, ok) => {
    expect(verifyLink(SECRET, id, e, s).ok).toBe(ok);
  });

  it("refuses a link signed with another secret", () => {
    expect(verifyLink("other", "ses_abc", String(exp), sig).ok).toBe(false);
  });
});

describe("hosted page escaping", () => {
  const hostile = `<a href="x" onclick='y'>&`;
  const escaped = "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;";

  it("escapes the characters that can break out of text or attributes in every value of the intake page", () => {
    const page = renderIntakePage({
      sessionId: hostile,
      caseTypeId: hostile,
      externalCaseId: hostile,
      locale: hostile,
      returnUrl: hostile,
      formAction: hostile,
      expiresAt: hostile,
    });
    expect(page).not.toContain(hostile);
    expect(page).not.toContain("<a href=\"x\"");
    // title, lang, four shown fields, form action and return link
    expect(page.split(escaped).length - 1).toBe(8);
  });

  it("escapes the values of the thank-you page and leaves plain text as it is", () => {
    const page = renderSubmittedPage({ caseTypeId: hostile, locale: "nl", returnUrl: "https://example.test/a?b=1&c=2" });
    expect(page).toContain(`Your ${escaped} intake was submitted.`);
    expect(page).toContain('href="https://example.test/a?b=1&amp;c=2"');
    expect(page).toContain('lang="nl"');
  });
});

describe("refusal pages", () => {
  it.each([
    ["invalid", 403, "not valid"],
    ["revoked", 410, "revoked"],
    ["expired", 410, "expired"],
    ["submitted", 410, "submitted"],
  ] as const)("answers %s links with %d and says %s", (problem, status, words) => {
    const page = renderLinkProblemPage(problem);
    expect(page.status).toBe(status);
    expect(page.html).toContain(words);
  });
});

describe("routeTemplate", () => {
  it.each([
    ["POST", "/api/v1/sessions", "POST /api/v1/sessions"],
    ["GET", "/api/v1/sessions/ses_1", "GET /api/v1/sessions/{id}"],
    ["POST", "/api/v1/sessions/ses_1/revoke", "POST /api/v1/sessions/{id}/revoke"],
    ["PATCH", "/api/v1/sessions/ses_1", "PATCH /api/v1/sessions/{id}"],
    ["PATCH", "/api/v1/sessions", "PATCH /api/v1/*"],
    ["GET", "/api/v1/cases/ses_1", "GET /api/v1/cases/{id}"],
    ["DELETE", "/api/v1/sessions/ses_1", "DELETE /api/v1/*"],
    ["GET", "/api/v1/sessions", "GET /api/v1/*"],
  ])("maps %s %s to %s", (method, path, route) => {
    expect(routeTemplate(method, path)).toBe(route);
  });
});

describe("time", () => {
  it("formats timestamps as UTC with second precision", () => {
    expect(formatTimestamp(Date.UTC(2027, 2, 31, 0, 0, 0, 999))).toBe("2027-03-31T00:00:00Z");
  });

  it("moves the server clock forward only", () => {
    const clock = new ServerClock(() => 1_000);
    expect(clock.advance(2)).toBe(3_000);
    expect(() => clock.advance(-1)).toThrow(/only moves forward/);
    clock.reset();
    expect(clock.now()).toBe(1_000);
  });

  it("reads an open session as expired from its expires_at on, and other states as stored", () => {
    const record = { state: "open", expires_at: 5_000 } as SessionRecord;
    expect(effectiveStatus(record, 4_999)).toBe("open");
    expect(effectiveStatus(record, 5_000)).toBe("expired");
    expect(effectiveStatus({ ...record, state: "revoked" }, 9_999)).toBe("revoked");
    expect(effectiveStatus({ ...record, state: "completed" }, 9_999)).toBe("completed");
  });
});

describe("store idempotency records", () => {
  const record = (id: string): SessionRecord => ({
    session_id: id,
    case_type_id: "motor_claim",
    idempotency_key: "k",
    external_case_id: "c",
    external_applicant_id: "a",
    return_url: null,
    locale: null,
    trace_id: null,
    state: "open",
    expires_at: 10_000_000,
    link_exp: 10_000,
    created_at: 1_000,
    revoked_at: null,
    completed_at: null,
  });

  it("lets only the latest holder of a reclaimed key complete it", () => {
    const store = KlarefiStore.open(":memory:");
    try {
      const scope = apiKeyScope("sk_test_x");
      expect(store.reserveIdempotency(scope, "k", "h1", 0, "t1")).toEqual({ kind: "reserved", token: "t1" });
      expect(store.reserveIdempotency(scope, "k", "h1", 59_999, "t2")).toEqual({ kind: "in_use" });
      expect(store.reserveIdempotency(scope, "k", "h2", 60_000, "t3")).toEqual({ kind: "reserved", token: "t3" });
      expect(store.completeCreate(scope, "k", "t1", "h1", record("ses_old"))).toBe(false);
      expect(store.getSession("ses_old")).toBeUndefined();
      expect(store.completeCreate(scope, "k", "t3", "h2", record("ses_new"))).toBe(true);
      expect(store.reserveIdempotency(scope, "k", "h2", 70_000, "t4")).toMatchObject({ kind: "replay" });
      expect(store.reserveIdempotency(scope, "k", "h1", 70_000, "t5")).toEqual({ kind: "mismatch" });
    } finally {
      store.close();
    }
  });

  it("frees a released reservation", () => {
    const store = KlarefiStore.open(":memory:");
    try {
      store.reserveIdempotency("s", "k", "h", 0, "t1");
      store.releaseIdempotency("s", "k", "t1");
      expect(store.reserveIdempotency("s", "k", "other", 1, "t2")).toEqual({ kind: "reserved", token: "t2" });
    } finally {
      store.close();
    }
  });
});

describe("store expiry updates", () => {
  const open = (id: string, expiresAt: number): SessionRecord => ({
    session_id: id,
    case_type_id: "motor_claim",
    idempotency_key: `k_${id}`,
    external_case_id: "c",
    external_applicant_id: "a",
    return_url: null,
    locale: null,
    trace_id: null,
    state: "open",
    expires_at: expiresAt,
    link_exp: Math.floor(expiresAt / 1000),
    created_at: 1_000,
    revoked_at: null,
    completed_at: null,
  });

  it("moves an open session's expires_at and keeps the link_exp it was issued with", () => {
    const store = KlarefiStore.open(":memory:");
    try {
      store.completeCreate("s", "k_a", "t", "h", open("ses_a", 100_000));
      const update = store.updateExpiry("ses_a", 500_000, 50_000);
      expect(update).toMatchObject({ kind: "updated", session: { expires_at: 500_000, link_exp: 100 } });
      expect(store.getSession("ses_a")).toMatchObject({ expires_at: 500_000, link_exp: 100 });
    } finally {
      store.close();
    }
  });

  it("leaves revoked, completed and expired sessions unchanged and says they are not open", () => {
    const store = KlarefiStore.open(":memory:");
    try {
      for (const id of ["ses_r", "ses_c", "ses_e"]) store.completeCreate("s", `k_${id}`, "t", "h", open(id, 100_000));
      store.revokeSession("ses_r", 10_000);
      store.completeSession("ses_c", 10_000);
      for (const [id, now] of [["ses_r", 20_000], ["ses_c", 20_000], ["ses_e", 100_000]] as const) {
        expect(store.updateExpiry(id, 900_000, now)).toMatchObject({ kind: "not_open", session: { expires_at: 100_000 } });
      }
      expect(store.updateExpiry("ses_missing", 900_000, 0)).toBeUndefined();
    } finally {
      store.close();
    }
  });
});
