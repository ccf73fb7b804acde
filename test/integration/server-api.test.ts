import { describe, expect, it } from "vitest";
import { fetch } from "undici";
import { Case, DEFAULT_EXPIRY_DAYS, ErrorBody, Session } from "../../contract/schemas";
import { DEFAULT_CASE_TYPES } from "../../server";
import { SEED_EXAMPLE_BODY, sessionBody, useTestServer } from "../helpers/server";

const server = useTestServer({ resetBeforeEach: false });

async function create(body: unknown = sessionBody()): Promise<Session> {
  const res = await server.createSession(body);
  expect(res.status).toBe(201);
  return Session.parse(await res.json());
}

async function errorOf(res: { status: number; json(): Promise<unknown> }) {
  return ErrorBody.parse(await res.json()).error;
}

describe("POST /api/v1/sessions", () => {
  it("creates an open session from the seed document's example body, echoing every field", async () => {
    const res = await server.createSession(SEED_EXAMPLE_BODY);
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    const session = Session.parse(await res.json());
    expect(session.object).toBe("intake_session");
    expect(session.session_id).toMatch(/^ses_[a-z2-7]{24}$/);
    expect(session.case_id).toBe(session.session_id);
    expect(session.status).toBe("open");
    expect(session).toMatchObject({
      case_type_id: "motor_claim",
      idempotency_key: "session_claim_48392",
      external_case_id: "claim_48392",
      external_applicant_id: "applicant_789",
      return_url: "https://claims.example.com/claim_48392",
      locale: "nl",
      trace_id: null,
      revoked_at: null,
    });
    expect(session.signed_url.startsWith(`${server.url}/i/${session.session_id}?exp=`)).toBe(true);
    expect(session.signed_url).toMatch(/&sig=[0-9a-f]{64}$/);
    const created = Date.parse(session.created_at);
    expect(Date.parse(session.expires_at) - created).toBeGreaterThanOrEqual(DEFAULT_EXPIRY_DAYS * 86_400_000 - 1000);
    expect(Date.parse(session.expires_at) - created).toBeLessThanOrEqual(DEFAULT_EXPIRY_DAYS * 86_400_000);
    expect(session.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("answers optional fields as null when the request leaves them out", async () => {
    const { return_url: _r, locale: _l, ...minimal } = sessionBody();
    const session = await create(minimal);
    expect(session.return_url).toBeNull();
    expect(session.locale).toBeNull();
    expect(session.trace_id).toBeNull();
  });

  it("stores an explicit expires_at as the same instant in UTC with second precision", async () => {
    const target = new Date(server.clock.now() + 10 * 86_400_000);
    target.setUTCMilliseconds(0);
    const offsetForm = new Date(target.getTime() + 2 * 3_600_000).toISOString().replace(".000Z", "+02:00");
    const session = await create(sessionBody({ expires_at: offsetForm }));
    expect(session.expires_at).toBe(target.toISOString().replace(".000Z", "Z"));
    const exp = new URL(session.signed_url).searchParams.get("exp");
    expect(Number(exp)).toBe(target.getTime() / 1000);
  });

  it.each([
    ["in the past", -60],
    ["more than 365 days ahead", 366 * 86_400],
  ])("refuses an expires_at %s with 422 expires_at_out_of_range", async (_what, offsetSeconds) => {
    const expiresAt = new Date(server.clock.now() + offsetSeconds * 1000).toISOString();
    const res = await server.createSession(sessionBody({ expires_at: expiresAt }));
    expect(res.status).toBe(422);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "expires_at_out_of_range", param: "expires_at" });
    expect(error.message).toContain("365 days");
  });

  it("refuses an unknown case type with 422, naming the value and the known ones", async () => {
    const res = await server.createSession(sessionBody({ case_type_id: "boat_claim" }));
    expect(res.status).toBe(422);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "unknown_case_type", param: "case_type_id" });
    expect(error.message).toContain("boat_claim");
    for (const known of DEFAULT_CASE_TYPES) expect(error.message).toContain(known);
  });

  it("lets an idempotency key refused for an unknown case type be used again for a valid request", async () => {
    const body = sessionBody({ case_type_id: "boat_claim" });
    expect((await server.createSession(body)).status).toBe(422);
    expect((await server.createSession({ ...body, case_type_id: "home_claim" })).status).toBe(201);
  });

  it.each([
    ["not JSON", "{case_type_id: motor_claim"],
    ["empty", ""],
    ["a JSON array", "[]"],
    ["JSON null", "null"],
  ])("answers 400 invalid_json when the body is %s", async (_what, body) => {
    const res = await server.createSession(body);
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
  });

  it.each(["case_type_id", "idempotency_key", "external_case_id", "external_applicant_id"] as const)(
    "answers 400 parameter_missing naming %s when it is absent",
    async (field) => {
      const body: Record<string, unknown> = { ...sessionBody() };
      delete body[field];
      const res = await server.createSession(body);
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error).toMatchObject({ type: "invalid_request_error", code: "parameter_missing", param: field });
      expect(error.message).toContain(field);
    },
  );

  it.each([
    ["return_url", "http://claims.example.com/x", "return_url must be an absolute https:// URL (http:// is allowed only for localhost)"],
    ["locale", "dutch language", 'locale must be a BCP 47 language tag such as "nl" or "nl-BE"'],
    ["case_type_id", "Motor Claim", "case_type_id must be lower-case letters, digits and underscores, starting with a letter"],
    ["external_case_id", "   ", "external_case_id must not be empty"],
    ["expires_at", "next tuesday", "expires_at must be an RFC 3339 timestamp such as 2027-03-31T00:00:00Z"],
    ["trace_id", "has spaces in it", "trace_id must be 1 to 128 printable ASCII characters without spaces"],
  ])("answers 400 parameter_invalid for a bad %s with the schema's message", async (field, value, message) => {
    const res = await server.createSession({ ...sessionBody(), [field]: value });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ type: "invalid_request_error", code: "parameter_invalid", param: field, message });
  });

  it("answers 400 parameter_unknown for a field the contract does not have", async () => {
    const res = await server.createSession({ ...sessionBody(), callback_url: "https://x.example.com" });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "parameter_unknown", param: "callback_url" });
  });

  it("allows http return URLs to localhost for local development", async () => {
    const session = await create(sessionBody({ return_url: "http://localhost:3000/done" }));
    expect(session.return_url).toBe("http://localhost:3000/done");
  });
});

describe("authentication", () => {
  it.each([
    ["no Authorization header", undefined],
    ["a Basic Authorization header", "Basic c2tfdGVzdDp4"],
    ["an empty bearer token", "Bearer "],
  ])("answers 401 missing_api_key for %s", async (_what, authorization) => {
    const res = await fetch(`${server.url}/api/v1/sessions/ses_x`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ type: "authentication_error", code: "missing_api_key" });
  });

  it("answers 401 invalid_api_key for an unknown key without echoing it", async () => {
    const wrongKey = "sk_test_wrong_key_1234567890abcdef";
    const res = await server.createSession(sessionBody(), { authorization: `Bearer ${wrongKey}` });
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).not.toContain(wrongKey);
    expect(ErrorBody.parse(JSON.parse(text)).error).toMatchObject({ type: "authentication_error", code: "invalid_api_key" });
  });
});

describe("GET /api/v1/sessions/{id}", () => {
  it("answers the session as created", async () => {
    const created = await create();
    const res = await server.api(`/api/v1/sessions/${created.session_id}`);
    expect(res.status).toBe(200);
    expect(Session.parse(await res.json())).toEqual(created);
  });

  it("answers 404 resource_missing for an unknown id", async () => {
    const res = await server.api("/api/v1/sessions/ses_x");
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({
      type: "not_found_error",
      code: "resource_missing",
      message: "No intake session ses_x exists.",
    });
  });
});

describe("POST /api/v1/sessions/{id}/revoke", () => {
  it("revokes an open session and answers it with revoked_at", async () => {
    const created = await create();
    const res = await server.api(`/api/v1/sessions/${created.session_id}/revoke`, { method: "POST" });
    expect(res.status).toBe(200);
    const revoked = Session.parse(await res.json());
    expect(revoked.status).toBe("revoked");
    expect(revoked.revoked_at).not.toBeNull();
    expect(revoked.session_id).toBe(created.session_id);
  });

  it("answers a revoked session unchanged when revoked again", async () => {
    const created = await create();
    const first = Session.parse(await (await server.api(`/api/v1/sessions/${created.session_id}/revoke`, { method: "POST" })).json());
    const res = await server.api(`/api/v1/sessions/${created.session_id}/revoke`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(Session.parse(await res.json())).toEqual(first);
  });

  it("answers 404 resource_missing for an unknown id", async () => {
    const res = await server.api("/api/v1/sessions/ses_nope/revoke", { method: "POST" });
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ code: "resource_missing", message: "No intake session ses_nope exists." });
  });
});

describe("GET /api/v1/cases/{id}", () => {
  it("answers the case behind a session: awaiting the applicant while open, closed once revoked", async () => {
    const created = await create();
    const open = Case.parse(await (await server.api(`/api/v1/cases/${created.case_id}`)).json());
    expect(open).toEqual({
      object: "case",
      case_id: created.session_id,
      session_id: created.session_id,
      case_type_id: created.case_type_id,
      external_case_id: created.external_case_id,
      external_applicant_id: created.external_applicant_id,
      status: "awaiting_applicant",
      session_status: "open",
      created_at: created.created_at,
    });
    await server.api(`/api/v1/sessions/${created.session_id}/revoke`, { method: "POST" });
    const closed = Case.parse(await (await server.api(`/api/v1/cases/${created.case_id}`)).json());
    expect(closed.status).toBe("closed");
    expect(closed.session_status).toBe("revoked");
  });

  it("answers 404 resource_missing for an unknown case", async () => {
    const res = await server.api("/api/v1/cases/ses_nope");
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ type: "not_found_error", code: "resource_missing", message: "No case ses_nope exists." });
  });
});

describe("request and trace ids", () => {
  it("puts a Request-Id on every answer: success, errors, unknown routes, hosted pages and admin", async () => {
    const created = await create();
    const responses = [
      await server.createSession(sessionBody()),
      await server.createSession("{"),
      await server.api("/api/v1/sessions/ses_missing"),
      await fetch(`${server.url}/api/v1/sessions/ses_missing`),
      await server.api("/api/v1/nowhere"),
      await fetch(`${server.url}/nowhere`),
      await fetch(created.signed_url),
      await fetch(`${server.url}/i/${created.session_id}?exp=1&sig=00`),
      await fetch(`${server.url}/_admin/counters`, { headers: { authorization: `Bearer ${server.adminKey}` } }),
      await fetch(`${server.url}/_admin/counters`),
      await fetch(`${server.url}/healthz`),
    ];
    const ids = new Set<string>();
    for (const res of responses) {
      const id = res.headers.get("request-id");
      expect(id).toMatch(/^req_[a-z2-7]{24}$/);
      ids.add(id ?? "");
      await res.text();
    }
    expect(ids.size).toBe(responses.length);
  });

  it("puts the error's request id in the body equal to the header", async () => {
    const res = await server.api("/api/v1/sessions/ses_missing");
    expect((await errorOf(res)).request_id).toBe(res.headers.get("request-id"));
  });

  it("echoes the body's trace_id in the Klarefi-Trace-Id header and stores it", async () => {
    const res = await server.createSession(sessionBody({ trace_id: "trace-body-1" }));
    expect(res.headers.get("klarefi-trace-id")).toBe("trace-body-1");
    expect(Session.parse(await res.json()).trace_id).toBe("trace-body-1");
  });

  it("echoes a Klarefi-Trace-Id request header on success and in error bodies", async () => {
    const ok = await server.api("/api/v1/sessions/ses_missing", { headers: { "klarefi-trace-id": "trace-hdr-2" } });
    expect(ok.headers.get("klarefi-trace-id")).toBe("trace-hdr-2");
    expect((await errorOf(ok)).trace_id).toBe("trace-hdr-2");
    const unauth = await fetch(`${server.url}/api/v1/sessions/ses_missing`, { headers: { "klarefi-trace-id": "trace-hdr-3" } });
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get("klarefi-trace-id")).toBe("trace-hdr-3");
    expect((await errorOf(unauth)).trace_id).toBe("trace-hdr-3");
  });

  it("carries the body's trace_id into validation errors", async () => {
    const res = await server.createSession({ ...sessionBody({ trace_id: "trace-bad-4" }), locale: 12 });
    expect(res.status).toBe(400);
    expect(res.headers.get("klarefi-trace-id")).toBe("trace-bad-4");
    expect((await errorOf(res)).trace_id).toBe("trace-bad-4");
  });
});

describe("secrets", () => {
  it("never puts the API key in any answer body", async () => {
    const created = await create();
    const bodies: string[] = [];
    const collect = async (p: Promise<{ text(): Promise<string> }>) => bodies.push(await (await p).text());
    await collect(server.createSession(sessionBody()));
    await collect(server.createSession(created));
    await collect(server.createSession(`{"api_key": "x"}`));
    await collect(server.createSession("not json"));
    await collect(server.api(`/api/v1/sessions/${created.session_id}`));
    await collect(server.api(`/api/v1/sessions/${created.session_id}/revoke`, { method: "POST" }));
    await collect(server.api(`/api/v1/cases/${created.session_id}`));
    await collect(server.api("/api/v1/sessions/ses_missing"));
    await collect(fetch(created.signed_url));
    await collect(fetch(`${server.url}/_admin/sessions`, { headers: { authorization: `Bearer ${server.adminKey}` } }));
    await collect(fetch(`${server.url}/_admin/counters`, { headers: { authorization: `Bearer ${server.apiKey}` } }));
    expect(bodies).toHaveLength(11);
    for (const body of bodies) expect(body).not.toContain(server.apiKey);
  });
});
