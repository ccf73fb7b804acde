import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorBody, MAX_EXPIRY_DAYS, Session } from "../../contract/schemas";
import {
  AdminClockResponse,
  AdminCounters,
  createKlarefiApp,
  DEFAULT_ADMIN_KEY,
  DEFAULT_CASE_TYPES,
  DEFAULT_TEST_API_KEY,
  FaultInjector,
  KlarefiStore,
  RateLimiter,
  RequestCounters,
  ServerClock,
} from "../../server";

/**
 * The app driven in process with `app.request()`: an in-memory store, no
 * socket, no process. Routes whose behaviour a socket does not change are
 * tested here; connection drops and persistence stay in test/integration.
 */

const BASE = "http://klarefi.test";
const DAY = 86_400;

let store: KlarefiStore;
let clock: ServerClock;
let faults: FaultInjector;
let counters: RequestCounters;
let app: ReturnType<typeof createKlarefiApp>;
let internalErrors: unknown[];
let keyCounter = 0;

beforeEach(() => {
  store = KlarefiStore.open(":memory:");
  clock = new ServerClock();
  faults = new FaultInjector();
  counters = new RequestCounters();
  internalErrors = [];
  app = createKlarefiApp({
    store,
    clock,
    faults,
    counters,
    rateLimiter: new RateLimiter(),
    apiKeys: [DEFAULT_TEST_API_KEY],
    adminKey: DEFAULT_ADMIN_KEY,
    caseTypes: DEFAULT_CASE_TYPES,
    signingSecret: "test-signing-secret",
    publicBaseUrl: () => BASE,
    onInternalError: (error) => internalErrors.push(error),
  });
});
afterEach(() => {
  store.close();
});

type Json = Record<string, unknown>;

async function call(method: string, path: string, body?: unknown, key: string | null = DEFAULT_TEST_API_KEY): Promise<Response> {
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  return app.request(path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

const admin = (method: string, path: string, body?: unknown) => call(method, `/_admin${path}`, body, DEFAULT_ADMIN_KEY);

function body(overrides: Json = {}): Json {
  keyCounter += 1;
  return {
    case_type_id: "motor_claim",
    idempotency_key: `routes_${keyCounter}`,
    external_case_id: `claim_${keyCounter}`,
    external_applicant_id: "applicant_789",
    return_url: "https://claims.example.com/claim",
    locale: "nl",
    ...overrides,
  };
}

async function create(overrides: Json = {}): Promise<Session> {
  const res = await call("POST", "/api/v1/sessions", body(overrides));
  expect(res.status).toBe(201);
  return Session.parse(await res.json());
}

async function errorOf(res: Response) {
  return ErrorBody.parse(await res.json()).error;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const inDays = (days: number) => iso(clock.now() + days * DAY * 1000);

/** The path and query of a signed URL, as the in-process app takes it. */
const linkPath = (signedUrl: string) => {
  const url = new URL(signedUrl);
  return `${url.pathname}${url.search}`;
};

async function openLink(signedUrl: string, method: "GET" | "POST" = "GET") {
  const res = await app.request(linkPath(signedUrl), method === "POST" ? { method, body: "description=x" } : {});
  return { status: res.status, html: await res.text() };
}

async function advance(seconds: number): Promise<void> {
  const res = await admin("POST", "/clock", { advance_seconds: seconds });
  expect(res.status).toBe(200);
  AdminClockResponse.parse(await res.json());
}

const patch = (id: string, payload: unknown) => call("PATCH", `/api/v1/sessions/${id}`, payload);

async function countersNow() {
  return AdminCounters.parse(await (await admin("GET", "/counters")).json()).counters;
}

describe("authentication", () => {
  it.each([
    ["no Authorization header", null, "missing_api_key", "No API key was provided; send it as Authorization: Bearer <key>."],
    ["a header that is not Bearer", "Basic abc", "missing_api_key", "No API key was provided; send it as Authorization: Bearer <key>."],
    ["an unknown key", "Bearer sk_test_unknown_key_123", "invalid_api_key", "The API key provided is not valid."],
    ["the admin key", `Bearer ${DEFAULT_ADMIN_KEY}`, "invalid_api_key", "The API key provided is not valid."],
  ])("refuses /api/v1 with %s as 401 %s, counted under the route", async (_what, authorization, code, message) => {
    const res = await app.request("/api/v1/sessions/ses_x", authorization === null ? {} : { headers: { authorization } });
    expect(res.status).toBe(401);
    expect(res.headers.get("request-id")).toMatch(/^req_[a-z2-7]{24}$/);
    expect(await errorOf(res)).toMatchObject({ type: "authentication_error", code, message });
    expect(counters.count("GET /api/v1/sessions/{id}", 401)).toBe(1);
  });

  it.each([
    ["no Authorization header", undefined, "missing_api_key", "No admin key was provided; send it as Authorization: Bearer <admin key>."],
    ["the API key", `Bearer ${DEFAULT_TEST_API_KEY}`, "invalid_api_key", "The admin key provided is not valid."],
  ])("refuses /_admin with %s as 401 %s, with the admin wording", async (_what, authorization, code, message) => {
    const res = await app.request("/_admin/counters", authorization === undefined ? {} : { headers: { authorization } });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ type: "authentication_error", code, message });
  });

  it("accepts the key case-insensitively after Bearer and with trailing spaces, as before the split", async () => {
    const res = await app.request("/api/v1/sessions/ses_x", { headers: { authorization: `bearer   ${DEFAULT_TEST_API_KEY}  ` } });
    expect(res.status).toBe(404);
  });
});

describe("validation", () => {
  it.each([
    ["an empty body", "", "invalid_json", undefined],
    ["a body that is not JSON", "{", "invalid_json", undefined],
    ["a JSON array", "[]", "invalid_json", undefined],
  ])("answers 400 for %s", async (_what, raw, code, param) => {
    const res = await call("POST", "/api/v1/sessions", raw);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: "invalid_request_error", code });
    expect(error.param).toBe(param);
  });

  it("answers 400 parameter_missing naming the absent field", async () => {
    const { external_case_id: _drop, ...rest } = body();
    const res = await call("POST", "/api/v1/sessions", rest);
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({
      code: "parameter_missing",
      param: "external_case_id",
      message: "external_case_id is required",
    });
  });

  it("answers 400 parameter_unknown before any other problem", async () => {
    const res = await call("POST", "/api/v1/sessions", { ...body({ locale: "not a locale" }), colour: "red" });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: "parameter_unknown", param: "colour", message: "unknown field: colour" });
  });

  it("answers 400 parameter_invalid with the field's rule", async () => {
    const res = await call("POST", "/api/v1/sessions", body({ return_url: "http://claims.example.com/x" }));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({
      code: "parameter_invalid",
      param: "return_url",
      message: "return_url must be an absolute https:// URL (http:// is allowed only for localhost)",
    });
  });

  it("answers 422 unknown_case_type naming the known case types", async () => {
    const res = await call("POST", "/api/v1/sessions", body({ case_type_id: "boat_claim" }));
    expect(res.status).toBe(422);
    expect(await errorOf(res)).toMatchObject({
      code: "unknown_case_type",
      param: "case_type_id",
      message: `Unknown case_type_id "boat_claim"; known case types: ${DEFAULT_CASE_TYPES.join(", ")}.`,
    });
  });
});

describe("create, replay, get and revoke", () => {
  it("creates a session, replays it for the same key and body, and refuses the key with another body", async () => {
    const request = body();
    const first = await call("POST", "/api/v1/sessions", request);
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const created = Session.parse(await first.json());
    expect(created).toMatchObject({ status: "open", external_case_id: request.external_case_id, locale: "nl" });
    expect(created.signed_url.startsWith(`${BASE}/i/${created.session_id}?exp=`)).toBe(true);

    const replay = await call("POST", "/api/v1/sessions", request);
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(Session.parse(await replay.json())).toEqual(created);

    const mismatch = await call("POST", "/api/v1/sessions", { ...request, locale: "fr" });
    expect(mismatch.status).toBe(422);
    expect(await errorOf(mismatch)).toMatchObject({ type: "idempotency_error", code: "idempotency_key_reused", param: "idempotency_key" });
  });

  it("reads a session as created and answers 404 for an unknown id", async () => {
    const created = await create();
    const read = await call("GET", `/api/v1/sessions/${created.session_id}`);
    expect(read.status).toBe(200);
    expect(Session.parse(await read.json())).toEqual(created);

    const missing = await call("GET", "/api/v1/sessions/ses_nope");
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toMatchObject({ code: "resource_missing", param: "id", message: "No intake session ses_nope exists." });
  });

  it("revokes an open session, answers it unchanged when revoked again, and 404 for an unknown id", async () => {
    const created = await create();
    const revoked = await call("POST", `/api/v1/sessions/${created.session_id}/revoke`);
    expect(revoked.status).toBe(200);
    const first = Session.parse(await revoked.json());
    expect(first.status).toBe("revoked");
    expect(first.revoked_at).not.toBeNull();
    const again = await call("POST", `/api/v1/sessions/${created.session_id}/revoke`);
    expect(Session.parse(await again.json())).toEqual(first);
    expect((await call("POST", "/api/v1/sessions/ses_nope/revoke")).status).toBe(404);
  });

  it("echoes a Klarefi-Trace-Id header and answers unknown routes 404 with a request id", async () => {
    const res = await app.request("/api/v1/nothing-here", {
      headers: { authorization: `Bearer ${DEFAULT_TEST_API_KEY}`, "klarefi-trace-id": "trace-abc" },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get("klarefi-trace-id")).toBe("trace-abc");
    const error = await errorOf(res);
    expect(error).toMatchObject({ code: "resource_missing", trace_id: "trace-abc", message: "Unrecognized request URL (GET /api/v1/nothing-here)." });
    expect(error.request_id).toBe(res.headers.get("request-id"));
  });
});

describe("hosted page", () => {
  it("opens an open session's link (200), refuses a tampered one (403), and a revoked one (410)", async () => {
    const created = await create();
    const opened = await openLink(created.signed_url);
    expect(opened.status).toBe(200);
    expect(opened.html).toContain('<form method="post"');

    const tampered = created.signed_url.replace(/sig=([0-9a-f])/, (_m, c: string) => `sig=${c === "0" ? "1" : "0"}`);
    expect((await openLink(tampered)).status).toBe(403);

    await call("POST", `/api/v1/sessions/${created.session_id}/revoke`);
    const revoked = await openLink(created.signed_url);
    expect(revoked.status).toBe(410);
    expect(revoked.html).toContain("This link was revoked");
  });

  it("completes the session when the form is posted to the signed link, then answers 410 already submitted", async () => {
    const created = await create();
    const submitted = await openLink(created.signed_url, "POST");
    expect(submitted.status).toBe(200);
    expect(submitted.html).toContain("Thank you");
    const read = Session.parse(await (await call("GET", `/api/v1/sessions/${created.session_id}`)).json());
    expect(read.status).toBe("completed");
    const again = await openLink(created.signed_url);
    expect(again.status).toBe(410);
    expect(again.html).toContain("Already submitted");
  });

  it("answers 410 expired once the server clock passes expires_at", async () => {
    const created = await create({ expires_at: inDays(1) });
    await advance(DAY + 1);
    const expired = await openLink(created.signed_url);
    expect(expired.status).toBe(410);
    expect(expired.html).toContain("This link has expired");
  });
});

describe("PATCH /api/v1/sessions/{id}", () => {
  it("extends an open session's expiry and keeps its id and byte-identical signed URL", async () => {
    const created = await create({ expires_at: inDays(1) });
    const newExpiry = inDays(10);
    const res = await patch(created.session_id, { expires_at: newExpiry });
    expect(res.status).toBe(200);
    const updated = Session.parse(await res.json());
    expect(updated).toEqual({ ...created, expires_at: newExpiry });
    expect(updated.signed_url).toBe(created.signed_url);
    const read = Session.parse(await (await call("GET", `/api/v1/sessions/${created.session_id}`)).json());
    expect(read).toEqual(updated);
  });

  it("keeps the mailed link open past its original expiry after an extension, and closes it at the new expiry", async () => {
    const created = await create({ expires_at: inDays(1) });
    const newExpiry = inDays(3);
    expect((await patch(created.session_id, { expires_at: newExpiry })).status).toBe(200);
    const linkExp = Number(new URL(created.signed_url).searchParams.get("exp"));

    await advance(2 * DAY); // one day past the link's own exp
    expect(clock.now()).toBeGreaterThan(linkExp * 1000);
    const stillOpen = await openLink(created.signed_url);
    expect(stillOpen.status).toBe(200);
    expect(stillOpen.html).toContain(`<dd data-field="expires_at">${newExpiry}</dd>`);

    await advance(DAY + 1); // past the new expiry
    const expired = await openLink(created.signed_url);
    expect(expired.status).toBe(410);
    expect(expired.html).toContain("This link has expired");
  });

  it("lets the form be submitted through the old link after an extension past its original expiry", async () => {
    const created = await create({ expires_at: inDays(1) });
    await patch(created.session_id, { expires_at: inDays(5) });
    await advance(2 * DAY);
    expect((await openLink(created.signed_url, "POST")).status).toBe(200);
    const read = Session.parse(await (await call("GET", `/api/v1/sessions/${created.session_id}`)).json());
    expect(read.status).toBe("completed");
  });

  it("shortens an expiry: the link closes at the new expiry though its own exp is later", async () => {
    const created = await create({ expires_at: inDays(10) });
    const res = await patch(created.session_id, { expires_at: inDays(1) });
    expect(res.status).toBe(200);
    expect(Session.parse(await res.json()).signed_url).toBe(created.signed_url);
    await advance(DAY + 1);
    expect((await openLink(created.signed_url)).status).toBe(410);
    const read = Session.parse(await (await call("GET", `/api/v1/sessions/${created.session_id}`)).json());
    expect(read.status).toBe("expired");
  });

  it.each([
    ["revoked", async (s: Session): Promise<void> => void (await call("POST", `/api/v1/sessions/${s.session_id}/revoke`))],
    ["completed", async (s: Session): Promise<void> => void (await openLink(s.signed_url, "POST"))],
    ["expired", async (): Promise<void> => advance(DAY + 1)],
  ] as const)("answers 409 session_not_open for a %s session, naming its status, and changes nothing", async (status, close) => {
    const created = await create({ expires_at: inDays(1) });
    await close(created);
    const before = Session.parse(await (await call("GET", `/api/v1/sessions/${created.session_id}`)).json());
    const res = await patch(created.session_id, { expires_at: inDays(30) });
    expect(res.status).toBe(409);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "session_not_open", param: "id" });
    expect(error.message).toBe(
      `Intake session ${created.session_id} is ${status}; only an open session's expiry can be changed; create a new session to issue a new link.`,
    );
    const after = Session.parse(await (await call("GET", `/api/v1/sessions/${created.session_id}`)).json());
    expect(after).toEqual(before);
  });

  it.each([
    ["in the past", () => iso(clock.now() - 1000), "is in the past"],
    ["now", () => iso(clock.now()), "is in the past"],
    [`more than ${MAX_EXPIRY_DAYS} days ahead`, () => inDays(MAX_EXPIRY_DAYS + 1), `is more than ${MAX_EXPIRY_DAYS} days ahead`],
  ])("answers 422 expires_at_out_of_range for an expiry %s, as create does", async (_what, expiresAt, words) => {
    const created = await create();
    const given = expiresAt();
    const res = await patch(created.session_id, { expires_at: given });
    expect(res.status).toBe(422);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "expires_at_out_of_range", param: "expires_at" });
    expect(error.message.startsWith(`expires_at ${given} ${words}`)).toBe(true);
    const onCreate = await call("POST", "/api/v1/sessions", body({ expires_at: given }));
    expect(onCreate.status).toBe(422);
    expect((await errorOf(onCreate)).message).toBe(error.message);
    const read = Session.parse(await (await call("GET", `/api/v1/sessions/${created.session_id}`)).json());
    expect(read.expires_at).toBe(created.expires_at);
  });

  it("takes any RFC 3339 zone and stores the UTC instant, and accepts an expiry MAX_EXPIRY_DAYS ahead", async () => {
    const created = await create();
    const target = Math.floor((clock.now() + 5 * DAY * 1000) / 1000) * 1000;
    const plusTwo = `${iso(target + 2 * 3_600_000).slice(0, -1)}+02:00`;
    const res = await patch(created.session_id, { expires_at: plusTwo });
    expect(res.status).toBe(200);
    expect(Session.parse(await res.json()).expires_at).toBe(iso(target));

    const atLimit = iso(Math.floor((clock.now() + MAX_EXPIRY_DAYS * DAY * 1000) / 1000) * 1000);
    const edge = await patch(created.session_id, { expires_at: atLimit });
    expect(edge.status).toBe(200);
    expect(Session.parse(await edge.json()).expires_at).toBe(atLimit);
  });

  it.each([
    ["a missing expires_at", {}, "parameter_missing", "expires_at"],
    ["an unknown field", { expires_at: "2027-01-01T00:00:00Z", locale: "fr" }, "parameter_unknown", "locale"],
    ["a malformed timestamp", { expires_at: "next tuesday" }, "parameter_invalid", "expires_at"],
    ["an empty body", "", "invalid_json", undefined],
  ])("answers 400 for %s", async (_what, payload, code, param) => {
    const created = await create();
    const res = await patch(created.session_id, payload);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: "invalid_request_error", code });
    expect(error.param).toBe(param);
  });

  it("answers 404 resource_missing for an unknown id, as GET does", async () => {
    const res = await patch("ses_nope", { expires_at: inDays(5) });
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ type: "not_found_error", code: "resource_missing", param: "id", message: "No intake session ses_nope exists." });
  });

  it("needs an API key", async () => {
    const created = await create();
    const res = await call("PATCH", `/api/v1/sessions/${created.session_id}`, { expires_at: inDays(5) }, null);
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ code: "missing_api_key" });
  });

  it("is faulted like the other routes and counted under PATCH /api/v1/sessions/{id}", async () => {
    const created = await create();
    const newExpiry = inDays(5);
    faults.configure({ seed: 1, rate503: 1, retryAfterSeconds: 2 });
    const refused = await patch(created.session_id, { expires_at: newExpiry });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("2");
    expect(await errorOf(refused)).toMatchObject({ type: "api_error", code: "service_unavailable" });
    expect(stored(created.session_id).expires_at).toBe(Date.parse(created.expires_at));
    faults.clear();
    expect((await patch(created.session_id, { expires_at: newExpiry })).status).toBe(200);
    expect((await patch("ses_nope", { expires_at: inDays(5) })).status).toBe(404);

    const list = await countersNow();
    expect(list).toContainEqual({ route: "PATCH /api/v1/sessions/{id}", status: 503, count: 1 });
    expect(list).toContainEqual({ route: "PATCH /api/v1/sessions/{id}", status: 200, count: 1 });
    expect(list).toContainEqual({ route: "PATCH /api/v1/sessions/{id}", status: 404, count: 1 });
    expect(stored(created.session_id).expires_at).toBe(Date.parse(newExpiry));
  });
});

function stored(id: string) {
  const record = store.getSession(id);
  if (record === undefined) throw new Error(`no session ${id} in the store`);
  return record;
}

describe("admin endpoints", () => {
  it("counts every /api/v1 request by route template and status, and none of its own", async () => {
    const created = await create();
    await call("GET", `/api/v1/sessions/${created.session_id}`);
    await call("GET", "/api/v1/sessions/ses_nope");
    await call("GET", `/api/v1/cases/${created.session_id}`);
    await call("POST", `/api/v1/sessions/${created.session_id}/revoke`);
    await admin("GET", "/sessions");
    const res = await admin("GET", "/counters");
    expect(res.status).toBe(200);
    const body = AdminCounters.parse(await res.json());
    expect(body.counters).toEqual([
      { route: "GET /api/v1/cases/{id}", status: 200, count: 1 },
      { route: "GET /api/v1/sessions/{id}", status: 200, count: 1 },
      { route: "GET /api/v1/sessions/{id}", status: 404, count: 1 },
      { route: "POST /api/v1/sessions", status: 201, count: 1 },
      { route: "POST /api/v1/sessions/{id}/revoke", status: 200, count: 1 },
    ]);
    expect(body.peak_in_flight).toBe(1);
  });

  it("clears the counters and sessions on reset", async () => {
    await create();
    expect((await admin("POST", "/reset")).status).toBe(200);
    expect(await countersNow()).toEqual([]);
    expect(store.countSessions()).toBe(0);
  });

  it("completes an open session out of band, answers a completed one unchanged, and is not counted", async () => {
    const created = await create();
    const res = await admin("POST", `/sessions/${created.session_id}/complete`);
    expect(res.status).toBe(200);
    const completed = Session.parse(await res.json());
    expect(completed).toEqual({ ...created, status: "completed" });
    expect(stored(created.session_id).completed_at).not.toBeNull();

    const again = await admin("POST", `/sessions/${created.session_id}/complete`);
    expect(again.status).toBe(200);
    expect(Session.parse(await again.json())).toEqual(completed);

    const page = await openLink(created.signed_url);
    expect(page.status).toBe(410);
    expect(page.html).toContain("Already submitted");
    const kase = (await (await call("GET", `/api/v1/cases/${created.session_id}`)).json()) as Json;
    expect(kase).toMatchObject({ status: "submitted", session_status: "completed" });
    expect((await countersNow()).some((c) => c.route.includes("_admin"))).toBe(false);
  });

  it("refuses to complete a revoked or expired session with 409, an unknown one with 404, and without the admin key with 401", async () => {
    const revoked = await create();
    await call("POST", `/api/v1/sessions/${revoked.session_id}/revoke`);
    const refused = await admin("POST", `/sessions/${revoked.session_id}/complete`);
    expect(refused.status).toBe(409);
    expect(await errorOf(refused)).toMatchObject({
      code: "session_not_open",
      message: `Intake session ${revoked.session_id} is revoked; only an open session can be completed.`,
    });

    const expiring = await create({ expires_at: inDays(1) });
    await advance(DAY + 1);
    expect((await admin("POST", `/sessions/${expiring.session_id}/complete`)).status).toBe(409);

    expect((await admin("POST", "/sessions/ses_nope/complete")).status).toBe(404);
    const unauthorized = await call("POST", `/_admin/sessions/${revoked.session_id}/complete`);
    expect(unauthorized.status).toBe(401);
    expect(stored(revoked.session_id).state).toBe("revoked");
  });

  it("answers unexpected errors 500 internal_error with the request id and tells onInternalError", async () => {
    store.close(); // every store call now throws
    const res = await call("GET", "/api/v1/sessions/ses_x");
    expect(res.status).toBe(500);
    const error = await errorOf(res);
    expect(error.code).toBe("internal_error");
    expect(error.message).toContain(error.request_id);
    expect(internalErrors).toHaveLength(1);
    store = KlarefiStore.open(":memory:"); // for afterEach
  });
});
