import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Klarefi, KlarefiError, type ErrorBody } from "../../client";
import { DEFAULT_TEST_API_KEY, MAX_BODY_BYTES } from "../../server";
import { sessionBody, startTestServer, type TestServer } from "../helpers/server";

/**
 * The local server's rate limit and body cap, and the client's pacing,
 * against the real server on 127.0.0.1. Figures (time, requests, 429s) are
 * logged, never asserted as timings.
 */

const SECOND_KEY = "sk_test_klarefi_second_key_000000";
let server: TestServer;
const clients: Klarefi[] = [];

function client(options: ConstructorParameters<typeof Klarefi>[0] = {}): Klarefi {
  const klarefi = new Klarefi({ apiKey: server.apiKey, baseUrl: server.url, ...options });
  clients.push(klarefi);
  return klarefi;
}

const POLICY = /^"default";q=(\d+);w=1$/;
const REMAINING = /^"default";r=(\d+);t=(\d+)$/;

beforeAll(async () => {
  server = await startTestServer({ dbPath: ":memory:", apiKeys: [DEFAULT_TEST_API_KEY, SECOND_KEY] });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.stop();
});

beforeEach(async () => {
  await server.admin.reset({ rate_limit: true, faults: true });
});

/** Sends `n` creates one after another with fetch and answers their statuses and headers. */
async function rawCreates(n: number, apiKey = server.apiKey): Promise<Array<{ status: number; headers: Headers; body: unknown }>> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = await server.createSession(sessionBody(), { authorization: `Bearer ${apiKey}` });
    out.push({ status: res.status, headers: res.headers as unknown as Headers, body: await res.json() });
  }
  return out;
}

/** Runs `count` creates through `klarefi` with every call started at once (the client's cap and pacer queue them). */
async function campaign(klarefi: Klarefi, count: number, prefix: string): Promise<{ failures: unknown[]; seconds: number }> {
  const started = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => klarefi.sessions.create(sessionBody({ idempotency_key: `${prefix}_${process.pid}_${Date.now()}_${i}` }))),
  );
  const failures = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as unknown);
  return { failures, seconds: (performance.now() - started) / 1000 };
}

describe("the server's rate limit", () => {
  it("sends well-formed RateLimit and RateLimit-Policy fields on every API answer while a limit is set, and none without one", async () => {
    const [unlimited] = await rawCreates(1);
    expect(unlimited?.status).toBe(201);
    expect(unlimited?.headers.get("ratelimit")).toBeNull();
    expect(unlimited?.headers.get("ratelimit-policy")).toBeNull();

    await server.admin.setRateLimit({ rps: 50, burst: 5 });
    const answers = await rawCreates(3);
    const notFound = await server.api("/api/v1/sessions/is_missing");
    for (const { headers } of [...answers, { headers: notFound.headers as unknown as Headers }]) {
      expect(headers.get("ratelimit-policy")).toMatch(POLICY);
      expect(POLICY.exec(headers.get("ratelimit-policy") ?? "")?.[1]).toBe("50");
      expect(headers.get("ratelimit")).toMatch(REMAINING);
    }
    expect(notFound.status).toBe(404);
    // A full bucket of 5 minus the first request leaves 4 (refill in between adds less than a token per 20 ms).
    const firstRemaining = Number(REMAINING.exec(answers[0]?.headers.get("ratelimit") ?? "")?.[1]);
    expect(firstRemaining).toBe(4);
  });

  it("answers 429 rate_limited with Retry-After once a key's burst is spent, and counts it", async () => {
    await server.admin.setRateLimit({ rps: 1, burst: 3 });
    const answers = await rawCreates(5);
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 429, 429]);
    const refused = answers[3];
    expect(refused?.headers.get("retry-after")).toBe("1");
    expect(refused?.headers.get("ratelimit")).toMatch(/^"default";r=0;t=\d+$/);
    const body = refused?.body as ErrorBody;
    expect(body.error).toMatchObject({ type: "rate_limit_error", code: "rate_limited" });
    expect(body.error.message).toContain("1 requests a second");
    expect(await server.admin.totals()).toEqual({ requests_total: 5, requests_429: 2, rate_limited: 2 });
    expect((await server.admin.apiCalls())["POST /api/v1/sessions 429"]).toBe(2);
  });

  it("keeps one bucket per API key: a key that spent its burst does not limit another", async () => {
    await server.admin.setRateLimit({ rps: 1, burst: 2 });
    expect((await rawCreates(3)).map((a) => a.status)).toEqual([201, 201, 429]);
    expect((await rawCreates(2, SECOND_KEY)).map((a) => a.status)).toEqual([201, 201]);
  });

  it("takes a limit changed at runtime through /_admin/rate-limit at once, and drops it on DELETE", async () => {
    expect(await server.admin.rateLimit()).toBeNull();
    expect(await server.admin.setRateLimit({ rps: 1, burst: 1 })).toEqual({ rps: 1, burst: 1, headers: true });
    expect((await rawCreates(2)).map((a) => a.status)).toEqual([201, 429]);
    expect(await server.admin.setRateLimit({ rps: 1000, burst: 1000 })).toEqual({ rps: 1000, burst: 1000, headers: true });
    expect((await rawCreates(3)).map((a) => a.status)).toEqual([201, 201, 201]);
    expect(await server.admin.setRateLimit(null)).toBeNull();
    const [after] = await rawCreates(1);
    expect(after?.headers.get("ratelimit")).toBeNull();
  });

  it("refuses an invalid limit with 400 and keeps the one in force", async () => {
    await server.admin.setRateLimit({ rps: 10 });
    const res = await fetch(`${server.url}/_admin/rate-limit`, {
      method: "PUT",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ rps: 0 }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.message).toContain("rps must be from 1 to 100000");
    expect(await server.admin.rateLimit()).toEqual({ rps: 10, burst: 10, headers: true });
  });
});

describe("the client's pacing against the server's rate limit", () => {
  it("runs 600 creates at 100/s (burst 20) with no failure and at most 1% of requests answered 429", async () => {
    await server.admin.setRateLimit({ rps: 100, burst: 20 });
    const klarefi = client();
    const { failures, seconds } = await campaign(klarefi, 600, "paced");
    const totals = await server.admin.totals();
    process.stdout.write(
      `rate-limit: 600 creates at rps 100 burst 20: ${seconds.toFixed(2)} s (ideal ${(600 / 100).toFixed(1)} s), ` +
        `${totals.requests_total} requests, ${totals.requests_429} answered 429; client paced at ${klarefi.pacing.ratePerSecond.toFixed(1)}/s\n`,
    );
    expect(failures).toEqual([]);
    expect((await server.admin.apiCalls())["POST /api/v1/sessions 201"]).toBe(600);
    expect(totals.requests_429).toBeLessThanOrEqual(Math.floor(totals.requests_total * 0.01));
    expect(klarefi.pacing.enabled).toBe(true);
  });

  it("lets two clients sharing one API key both finish 300 creates each with no failure", async () => {
    await server.admin.setRateLimit({ rps: 100, burst: 20 });
    const a = client();
    const b = client();
    const [ra, rb] = await Promise.all([campaign(a, 300, "shared_a"), campaign(b, 300, "shared_b")]);
    const totals = await server.admin.totals();
    process.stdout.write(
      `rate-limit: two clients x 300 creates on one key at rps 100 burst 20: ${Math.max(ra.seconds, rb.seconds).toFixed(2)} s, ` +
        `${totals.requests_total} requests, ${totals.requests_429} answered 429\n`,
    );
    expect(ra.failures).toEqual([]);
    expect(rb.failures).toEqual([]);
    expect((await server.admin.apiCalls())["POST /api/v1/sessions 201"]).toBe(600);
  });

  it("adapts to 429s alone when the API sends no rate-limit fields, with no failure", async () => {
    await server.admin.setRateLimit({ rps: 100, burst: 20, headers: false });
    const klarefi = client();
    const { failures, seconds } = await campaign(klarefi, 300, "adaptive");
    const totals = await server.admin.totals();
    process.stdout.write(
      `rate-limit: 300 creates at rps 100 burst 20 without RateLimit fields: ${seconds.toFixed(2)} s, ` +
        `${totals.requests_total} requests, ${totals.requests_429} answered 429; client paced at ${klarefi.pacing.ratePerSecond.toFixed(1)}/s\n`,
    );
    expect(failures).toEqual([]);
    expect(totals.requests_429).toBeGreaterThan(0);
    expect(klarefi.pacing.enabled).toBe(true);
    expect((await server.admin.apiCalls())["POST /api/v1/sessions 201"]).toBe(300);
  });

  it("without pacing and without the 429 allowance, an unpaced burst against a limit fails rows", async () => {
    // The control for the tests above: the limit is real and pacing is what keeps rows from failing.
    await server.admin.setRateLimit({ rps: 20, burst: 5 });
    const klarefi = client({ pacing: false, maxRateLimitRetries: 0, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
    const { failures } = await campaign(klarefi, 200, "unpaced");
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((f) => f instanceof KlarefiError && f.status === 429)).toBe(true);
  });
});

/**
 * Sends a POST of `bytes` bytes to /api/v1/sessions with node:http, either
 * with Content-Length or chunked, writing it in 64 KiB pieces while the
 * server allows, and answers the status and body the server sent (it may
 * answer and close before the upload ends).
 */
function postLargeBody(bytes: number, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL("/api/v1/sessions", server.url);
    const req = httpRequest(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${server.apiKey}`,
        "content-type": "application/json",
        ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(bytes) }),
      },
    });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    // Writing after the server closed fails with EPIPE/ECONNRESET: expected once it answered.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    const piece = Buffer.alloc(64 * 1024, 0x20);
    piece.write('{"case_type_id":"motor_claim","pad":"');
    let sent = 0;
    const pump = () => {
      while (sent < bytes && !answered && !req.destroyed) {
        const n = Math.min(piece.length, bytes - sent);
        sent += n;
        if (!req.write(n === piece.length ? piece : piece.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      if (!answered && !req.destroyed) req.end();
    };
    pump();
  });
}

describe("the request body cap", () => {
  it("answers 413 body_too_large to a 50 MB body with Content-Length, without reading it", async () => {
    const rssBefore = process.memoryUsage().rss;
    const { status, body } = await postLargeBody(50 * 1024 * 1024, false);
    const rssAfter = process.memoryUsage().rss;
    process.stdout.write(`rate-limit: 50 MB body with Content-Length: ${status}, RSS ${mb(rssBefore)} -> ${mb(rssAfter)} MB (server and test in one process)\n`);
    expect(status).toBe(413);
    const error = (JSON.parse(body) as ErrorBody).error;
    expect(error).toMatchObject({ type: "invalid_request_error", code: "body_too_large" });
    expect(error.message).toContain(String(MAX_BODY_BYTES));
    expect(rssAfter - rssBefore).toBeLessThan(40 * 1024 * 1024);
  });

  it("answers 413 body_too_large to a 50 MB chunked body once it passes the cap", async () => {
    const rssBefore = process.memoryUsage().rss;
    const { status, body } = await postLargeBody(50 * 1024 * 1024, true);
    const rssAfter = process.memoryUsage().rss;
    process.stdout.write(`rate-limit: 50 MB chunked body: ${status}, RSS ${mb(rssBefore)} -> ${mb(rssAfter)} MB (server and test in one process)\n`);
    expect(status).toBe(413);
    expect((JSON.parse(body) as ErrorBody).error.code).toBe("body_too_large");
    expect(rssAfter - rssBefore).toBeLessThan(40 * 1024 * 1024);
  });

  it("still reads a body just under the cap (and refuses it as invalid JSON, not as too large)", async () => {
    const { status, body } = await postLargeBody(MAX_BODY_BYTES, true);
    expect(status).toBe(400);
    expect((JSON.parse(body) as ErrorBody).error.code).toBe("invalid_json");
  });
});

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}
