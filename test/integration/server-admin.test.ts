import { describe, expect, it } from "vitest";
import { fetch } from "undici";
import { ErrorBody, Session } from "../../contract/schemas";
import { AdminCounters, DEFAULT_ADMIN_KEY } from "../../server";
import { sessionBody, useTestServer } from "../helpers/server";

const server = useTestServer();

async function create(overrides: Parameters<typeof sessionBody>[0] = {}): Promise<Session> {
  return Session.parse(await (await server.createSession(sessionBody(overrides))).json());
}

describe("admin authorization", () => {
  it.each([
    ["no key", undefined, "missing_api_key"],
    ["the API key", `Bearer sk_test_klarefi_local_0000000000000000`, "invalid_api_key"],
    ["a wrong admin key", "Bearer adm_wrong", "invalid_api_key"],
  ])("answers 401 with %s", async (_what, authorization, code) => {
    for (const [method, path] of [
      ["GET", "/_admin/sessions"],
      ["GET", "/_admin/counters"],
      ["POST", "/_admin/reset"],
      ["GET", "/_admin/faults"],
      ["PUT", "/_admin/faults"],
      ["POST", "/_admin/clock"],
      ["POST", "/_admin/sessions/ses_x/complete"],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { method, headers: authorization === undefined ? {} : { authorization } });
      expect(res.status).toBe(401);
      expect(ErrorBody.parse(await res.json()).error).toMatchObject({ type: "authentication_error", code });
    }
  });

  it("uses the documented default admin key", () => {
    expect(server.adminKey).toBe(DEFAULT_ADMIN_KEY);
  });
});

describe("GET /_admin/sessions", () => {
  it("lists sessions oldest first and filters by status, case type and external ids", async () => {
    const a = await create({ case_type_id: "motor_claim", external_case_id: "c1", external_applicant_id: "p1" });
    const b = await create({ case_type_id: "home_claim", external_case_id: "c2", external_applicant_id: "p1" });
    const c = await create({ case_type_id: "home_claim", external_case_id: "c3", external_applicant_id: "p2" });
    await server.api(`/api/v1/sessions/${b.session_id}/revoke`, { method: "POST" });
    const ids = (list: Session[]) => list.map((s) => s.session_id);

    expect(ids(await server.admin.sessions())).toEqual([a.session_id, b.session_id, c.session_id]);
    expect(ids(await server.admin.sessions({ status: "revoked" }))).toEqual([b.session_id]);
    expect(ids(await server.admin.sessions({ status: "open" }))).toEqual([a.session_id, c.session_id]);
    expect(ids(await server.admin.sessions({ case_type_id: "home_claim" }))).toEqual([b.session_id, c.session_id]);
    expect(ids(await server.admin.sessions({ external_case_id: "c1" }))).toEqual([a.session_id]);
    expect(ids(await server.admin.sessions({ external_applicant_id: "p1", case_type_id: "home_claim" }))).toEqual([b.session_id]);
    expect(await server.admin.sessions({ external_case_id: "none" })).toEqual([]);
  });

  it("filters by status as readers see it, so open sessions past expiry list as expired", async () => {
    const s = await create({ expires_at: new Date(server.clock.now() + 60_000).toISOString() });
    const keep = await create();
    await server.admin.advanceClock(61);
    expect((await server.admin.sessions({ status: "expired" })).map((x) => x.session_id)).toEqual([s.session_id]);
    expect((await server.admin.sessions({ status: "open" })).map((x) => x.session_id)).toEqual([keep.session_id]);
  });

  it("answers 400 for an unknown status or filter", async () => {
    const headers = { authorization: `Bearer ${server.adminKey}` };
    const badStatus = await fetch(`${server.url}/_admin/sessions?status=paused`, { headers });
    expect(badStatus.status).toBe(400);
    expect(ErrorBody.parse(await badStatus.json()).error).toMatchObject({ code: "parameter_invalid", param: "status" });
    const badFilter = await fetch(`${server.url}/_admin/sessions?colour=red`, { headers });
    expect(badFilter.status).toBe(400);
    expect(ErrorBody.parse(await badFilter.json()).error).toMatchObject({ code: "parameter_unknown", param: "colour" });
  });
});

describe("POST /_admin/sessions/{id}/complete", () => {
  it("completes an open session out of band: the API reads it completed, its link answers 410, and it is not counted", async () => {
    const created = await create();
    const completed = await server.admin.completeSession(created.session_id);
    expect(completed).toEqual({ ...created, status: "completed" });
    const read = Session.parse(await (await server.api(`/api/v1/sessions/${created.session_id}`)).json());
    expect(read.status).toBe("completed");
    const page = await fetch(created.signed_url);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain("Already submitted");
    expect((await server.admin.counters()).map((c) => c.route)).toEqual(["GET /api/v1/sessions/{id}", "POST /api/v1/sessions"]);
  });

  it("answers 409 session_not_open for a revoked session and 404 for an unknown one", async () => {
    const created = await create();
    await server.api(`/api/v1/sessions/${created.session_id}/revoke`, { method: "POST" });
    const headers = { authorization: `Bearer ${server.adminKey}` };
    const refused = await fetch(`${server.url}/_admin/sessions/${created.session_id}/complete`, { method: "POST", headers });
    expect(refused.status).toBe(409);
    expect(ErrorBody.parse(await refused.json()).error).toMatchObject({ code: "session_not_open" });
    const missing = await fetch(`${server.url}/_admin/sessions/ses_nope/complete`, { method: "POST", headers });
    expect(missing.status).toBe(404);
    await missing.text();
  });
});

describe("GET /_admin/counters", () => {
  it("counts every /api/v1 request by route template and status, unauthenticated ones included", async () => {
    const s = await create();
    await create();
    await server.api(`/api/v1/sessions/${s.session_id}`);
    await server.api(`/api/v1/sessions/ses_missing`);
    await server.api(`/api/v1/sessions/${s.session_id}/revoke`, { method: "POST" });
    await server.api(`/api/v1/cases/${s.session_id}`);
    await fetch(`${server.url}/api/v1/sessions/${s.session_id}`);
    await server.api(`/api/v1/elsewhere`);
    await fetch(s.signed_url);

    const res = await fetch(`${server.url}/_admin/counters`, { headers: { authorization: `Bearer ${server.adminKey}` } });
    const { counters } = AdminCounters.parse(await res.json());
    expect(counters).toEqual([
      { route: "GET /api/v1/*", status: 404, count: 1 },
      { route: "GET /api/v1/cases/{id}", status: 200, count: 1 },
      { route: "GET /api/v1/sessions/{id}", status: 200, count: 1 },
      { route: "GET /api/v1/sessions/{id}", status: 401, count: 1 },
      { route: "GET /api/v1/sessions/{id}", status: 404, count: 1 },
      { route: "POST /api/v1/sessions", status: 201, count: 2 },
      { route: "POST /api/v1/sessions/{id}/revoke", status: 200, count: 1 },
    ]);
  });
});

describe("POST /_admin/reset", () => {
  it("clears sessions, idempotency records and counters but keeps faults unless asked", async () => {
    const body = sessionBody();
    const first = Session.parse(await (await server.createSession(body)).json());
    await server.admin.setFaults({ seed: 4, latencyMs: 1 });
    await server.admin.reset();
    expect(await server.admin.sessions()).toEqual([]);
    expect(await server.admin.counters()).toEqual([]);
    expect((await server.admin.faults()).latencyMs).toBe(1);

    const again = await server.createSession(body);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(Session.parse(await again.json()).session_id).not.toBe(first.session_id);

    await server.admin.reset({ faults: true });
    expect((await server.admin.faults()).latencyMs).toBe(0);
  });

  it("refuses unknown reset options with 400", async () => {
    const res = await fetch(`${server.url}/_admin/reset`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ everything: true }),
    });
    expect(res.status).toBe(400);
  });
});

describe("/_admin/faults", () => {
  it("answers the configuration in force with every field and the seed", async () => {
    const set = await server.admin.setFaults({ seed: 99, rate429: 0.1 });
    expect(set).toEqual({ seed: 99, rate429: 0.1, rate500: 0, rate503: 0, latencyMs: 0, commitThenDrop: 0, retryAfterSeconds: 1 });
    expect(await server.admin.faults()).toEqual(set);
  });

  it("picks and reports a seed when none is given", async () => {
    const set = await server.admin.setFaults({ rate500: 0.1 });
    expect(Number.isInteger(set.seed)).toBe(true);
  });

  it("refuses an invalid configuration with 400 and keeps the old one", async () => {
    await server.admin.setFaults({ seed: 1, rate429: 0.2 });
    const res = await fetch(`${server.url}/_admin/faults`, {
      method: "PUT",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ rate429: 0.7, rate503: 0.7 }),
    });
    expect(res.status).toBe(400);
    expect(ErrorBody.parse(await res.json()).error.message).toContain("at most 1");
    expect((await server.admin.faults()).rate429).toBe(0.2);
  });
});

describe("/_admin/clock", () => {
  it("moves the server clock forward and answers the new time", async () => {
    const before = server.clock.now();
    const now = await server.admin.advanceClock(3600);
    expect(Date.parse(now) - before).toBeGreaterThanOrEqual(3_600_000);
    expect(Date.parse(now) - before).toBeLessThan(3_660_000);
  });

  it("refuses to move the clock backwards", async () => {
    const res = await fetch(`${server.url}/_admin/clock`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ advance_seconds: -5 }),
    });
    expect(res.status).toBe(400);
    expect(ErrorBody.parse(await res.json()).error).toMatchObject({ code: "parameter_invalid", param: "advance_seconds" });
  });
});
