import { describe, expect, it } from "vitest";
import { fetch } from "undici";
import { ErrorBody, Session } from "../../contract/schemas";
import { decideFault, FaultConfig, FaultInjector, mulberry32, resolveFaultConfig } from "../../server";
import { sessionBody, useTestServer } from "../helpers/server";

const MAX_LOOP_MS = 20_000;

describe("decideFault", () => {
  const config = resolveFaultConfig({ seed: 1, rate429: 0.1, rate500: 0.2, rate503: 0.3, latencyMs: 50, commitThenDrop: 0.5, retryAfterSeconds: 7 });
  it.each([
    [0.0, 0.9, true, 429, false],
    [0.099, 0.9, true, 429, false],
    [0.1, 0.9, true, 500, false],
    [0.299, 0.0, true, 500, false],
    [0.3001, 0.9, true, 503, false],
    [0.599, 0.9, true, 503, false],
    [0.6001, 0.9, true, null, false],
    [0.6001, 0.49, true, null, true],
    [0.6001, 0.49, false, null, false],
    [0.99, 0.5, true, null, false],
  ] as const)("status draw %d and drop draw %d (droppable %s) give status %s, drop %s", (s, d, droppable, status, drop) => {
    const decision = decideFault(config, s, d, droppable);
    expect(decision.status).toBe(status);
    expect(decision.dropAfterCommit).toBe(drop);
    expect(decision.retryAfterSeconds).toBe(7);
    expect(decision.latencyMs).toBe(status === null ? 50 : 0);
  });

  it("never faults with the default configuration", () => {
    const none = resolveFaultConfig({}, () => 3);
    expect(none).toEqual({ seed: 3, rate429: 0, rate500: 0, rate503: 0, latencyMs: 0, commitThenDrop: 0, retryAfterSeconds: 1 });
    expect(decideFault(none, 0, 0, true)).toEqual({ status: null, latencyMs: 0, dropAfterCommit: false, retryAfterSeconds: 1 });
  });
});

describe("mulberry32", () => {
  it("repeats its sequence for a seed, differs across seeds, and stays in [0, 1)", () => {
    const take = (seed: number) => {
      const next = mulberry32(seed);
      return Array.from({ length: 1000 }, () => next());
    };
    const a = take(42);
    expect(take(42)).toEqual(a);
    expect(take(43)).not.toEqual(a);
    for (const x of a) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe("FaultConfig", () => {
  it.each([
    [{ rate429: 1.5 }, "rate429 must be between 0 and 1"],
    [{ rate500: -0.1 }, "rate500 must be between 0 and 1"],
    [{ rate429: 0.5, rate500: 0.4, rate503: 0.2 }, "rate429 + rate500 + rate503 must be at most 1; got 1.1"],
    [{ latencyMs: 1.5 }, "latencyMs must be an integer"],
    [{ latencyMs: 60_001 }, "latencyMs must be between 0 and 60000"],
  ])("refuses %j: %s", (config, message) => {
    const result = FaultConfig.safeParse(config);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain(message);
  });

  it("refuses unknown fields", () => {
    expect(FaultConfig.safeParse({ rate404: 0.1 }).success).toBe(false);
  });

  it("draws the same decisions again after being configured with the same seed", () => {
    const injector = new FaultInjector({ seed: 9, rate429: 0.3, rate503: 0.3, commitThenDrop: 0.5 });
    const first = Array.from({ length: 50 }, () => injector.next(true));
    injector.configure({ seed: 9, rate429: 0.3, rate503: 0.3, commitThenDrop: 0.5 });
    expect(Array.from({ length: 50 }, () => injector.next(true))).toEqual(first);
  });
});

describe("fault injection over HTTP", () => {
  const server = useTestServer();

  async function statuses(count: number, path = "/api/v1/sessions/ses_missing"): Promise<number[]> {
    const out: number[] = [];
    const deadline = Date.now() + MAX_LOOP_MS;
    for (let i = 0; i < count && Date.now() < deadline; i++) {
      const res = await server.api(path);
      await res.text();
      out.push(res.status);
    }
    expect(out).toHaveLength(count);
    return out;
  }

  it("answers about the configured share of requests with 429 and Retry-After", async () => {
    await server.admin.setFaults({ seed: 1234, rate429: 0.25, retryAfterSeconds: 3 });
    const seen = await statuses(400);
    const limited = seen.filter((s) => s === 429).length;
    expect(limited / 400).toBeGreaterThanOrEqual(0.15);
    expect(limited / 400).toBeLessThanOrEqual(0.35);
    expect(seen.filter((s) => s !== 429 && s !== 404)).toEqual([]);

    await server.admin.setFaults({ seed: 1, rate429: 1, retryAfterSeconds: 3 });
    const res = await server.api("/api/v1/sessions/ses_missing");
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(ErrorBody.parse(await res.json()).error).toMatchObject({ type: "rate_limit_error", code: "rate_limited" });
  });

  it("repeats the same fault sequence for the same seed and request order", async () => {
    const config = { seed: 777, rate429: 0.2, rate500: 0.2, rate503: 0.2 };
    await server.admin.setFaults(config);
    const first = await statuses(60);
    await server.admin.setFaults(config);
    const second = await statuses(60);
    expect(second).toEqual(first);
    await server.admin.setFaults({ ...config, seed: 778 });
    expect(await statuses(60)).not.toEqual(first);
  });

  it("answers injected 500 as api_error internal_error and 503 as api_error service_unavailable with Retry-After", async () => {
    await server.admin.setFaults({ seed: 5, rate500: 1 });
    const five = await server.api("/api/v1/sessions/ses_missing");
    expect(five.status).toBe(500);
    expect(ErrorBody.parse(await five.json()).error).toMatchObject({ type: "api_error", code: "internal_error" });

    await server.admin.setFaults({ seed: 5, rate503: 1, retryAfterSeconds: 2 });
    const unavailable = await server.api("/api/v1/sessions/ses_missing");
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get("retry-after")).toBe("2");
    expect(ErrorBody.parse(await unavailable.json()).error).toMatchObject({ type: "api_error", code: "service_unavailable" });
  });

  it("leaves hosted pages, the health check and admin endpoints alone", async () => {
    const created = Session.parse(await (await server.createSession(sessionBody())).json());
    await server.admin.setFaults({ seed: 5, rate503: 1 });
    expect((await fetch(created.signed_url)).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await server.admin.sessions()).toHaveLength(1);
  });

  it("counts injected faults in the admin counters under the route template", async () => {
    await server.admin.setFaults({ seed: 5, rate429: 1 });
    await statuses(3, "/api/v1/sessions/ses_a");
    await server.createSession(sessionBody());
    const counters = await server.admin.counters();
    expect(counters).toContainEqual({ route: "GET /api/v1/sessions/{id}", status: 429, count: 3 });
    expect(counters).toContainEqual({ route: "POST /api/v1/sessions", status: 429, count: 1 });
  });

  it("commits a create, then drops the connection: the client sees a socket error and the session is stored", async () => {
    await server.admin.setFaults({ seed: 3, commitThenDrop: 1 });
    const body = sessionBody();
    await expect(server.createSession(body)).rejects.toThrow();
    const stored = await server.admin.sessions({ external_case_id: body.external_case_id });
    expect(stored).toHaveLength(1);
    expect(await server.admin.counters()).toContainEqual({ route: "POST /api/v1/sessions", status: 201, count: 1, dropped: true });

    await server.admin.setFaults({});
    const retry = await server.createSession(body);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(Session.parse(await retry.json()).session_id).toBe(stored[0]?.session_id);
  });

  it("commits a revoke, then drops the connection", async () => {
    const created = Session.parse(await (await server.createSession(sessionBody())).json());
    await server.admin.setFaults({ seed: 3, commitThenDrop: 1 });
    await expect(server.api(`/api/v1/sessions/${created.session_id}/revoke`, { method: "POST" })).rejects.toThrow();
    await server.admin.setFaults({});
    const read = Session.parse(await (await server.api(`/api/v1/sessions/${created.session_id}`)).json());
    expect(read.status).toBe("revoked");
  });

  it("commits an expiry change, then drops the connection; repeating the change answers the same session", async () => {
    const created = Session.parse(await (await server.createSession(sessionBody())).json());
    const expiresAt = new Date(Math.floor(server.clock.now() / 1000) * 1000 + 90 * 86_400_000).toISOString().replace(".000Z", "Z");
    const change = () =>
      server.api(`/api/v1/sessions/${created.session_id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ expires_at: expiresAt }),
      });
    await server.admin.setFaults({ seed: 3, commitThenDrop: 1 });
    await expect(change()).rejects.toThrow();
    expect(await server.admin.counters()).toContainEqual({ route: "PATCH /api/v1/sessions/{id}", status: 200, count: 1, dropped: true });
    await server.admin.setFaults({});
    const read = Session.parse(await (await server.api(`/api/v1/sessions/${created.session_id}`)).json());
    expect(read).toMatchObject({ status: "open", expires_at: expiresAt, signed_url: created.signed_url });
    const retry = await change();
    expect(retry.status).toBe(200);
    expect(Session.parse(await retry.json())).toEqual(read);
  });

  it("never drops reads", async () => {
    const created = Session.parse(await (await server.createSession(sessionBody())).json());
    await server.admin.setFaults({ seed: 3, commitThenDrop: 1 });
    const res = await server.api(`/api/v1/sessions/${created.session_id}`);
    expect(res.status).toBe(200);
  });

  it("keeps serving after dropped connections", async () => {
    await server.admin.setFaults({ seed: 11, commitThenDrop: 0.5 });
    let dropped = 0;
    let answered = 0;
    const deadline = Date.now() + MAX_LOOP_MS;
    for (let i = 0; i < 20 && Date.now() < deadline; i++) {
      try {
        const res = await server.createSession(sessionBody());
        await res.text();
        answered += 1;
      } catch {
        dropped += 1;
      }
    }
    expect(dropped + answered).toBe(20);
    expect(dropped).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(0);
    expect(await server.admin.sessions()).toHaveLength(20);
  });
});
