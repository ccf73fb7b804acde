import { inspect } from "node:util";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { Klarefi, KlarefiApiError, KlarefiConnectionError, KlarefiError } from "../../client";
import type { AdminCounter } from "../../server";
import { sessionBody, useTestServer, waitForHeldKey } from "../helpers/server";

/**
 * Retries against the real local server with injected faults: the session is
 * created once, whatever the number of attempts, because every attempt
 * carries the same idempotency key.
 */

const server = useTestServer({ dbPath: ":memory:" });
const clients: Klarefi[] = [];
/** Debug lines the clients logged during the current test (emptied before each test). */
const logLines: string[] = [];

function client(options: ConstructorParameters<typeof Klarefi>[0] = {}): Klarefi {
  const klarefi = new Klarefi({
    apiKey: server.apiKey,
    baseUrl: server.url,
    maxRetries: 10,
    retry: { initialDelayMs: 1, maxDelayMs: 10 },
    logger: { debug: (line) => logLines.push(line) },
    ...options,
  });
  clients.push(klarefi);
  return klarefi;
}

const CREATE = "POST /api/v1/sessions";
const REVOKE = "POST /api/v1/sessions/{id}/revoke";

/** Checks texts a test produced (and that there are some) for the API key and signed links. */
function expectNoSecrets(texts: string[], signedUrl?: string): void {
  expect(texts.length, "texts to check").toBeGreaterThan(0);
  for (const text of texts) {
    expect(text).not.toContain(server.apiKey);
    if (signedUrl !== undefined) expect(text).not.toContain(signedUrl);
    expect(text).not.toContain("sig=");
  }
}

function count(counters: AdminCounter[], route: string, status: number, dropped = false): number {
  return counters
    .filter((c) => c.route === route && c.status === status && (c.dropped ?? false) === dropped)
    .reduce((n, c) => n + c.count, 0);
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

beforeEach(async () => {
  logLines.length = 0;
});

describe("retries keep one idempotency key", () => {
  it("retries 429s into exactly one session", async () => {
    await server.admin.setFaults({ seed: 7, rate429: 0.6, retryAfterSeconds: 0 });
    const body = sessionBody({ external_case_id: "claim_retry_429" });
    const created = await client().sessions.createWithResponse(body);
    await server.admin.setFaults({});

    const counters = await server.admin.counters();
    expect(count(counters, CREATE, 429)).toBeGreaterThanOrEqual(1);
    expect(count(counters, CREATE, 201)).toBe(1);
    expect(created.attempts).toBe(count(counters, CREATE, 429) + 1);
    const stored = await server.admin.sessions({ external_case_id: "claim_retry_429" });
    expect(stored.map((s) => [s.session_id, s.idempotency_key])).toEqual([[created.session.session_id, body.idempotency_key]]);
  });

  it("waits at least the Retry-After the server asked for before each retry, even with a 10 ms backoff ceiling", async () => {
    await server.admin.setFaults({ seed: 7, rate429: 0.6, retryAfterSeconds: 1 });
    const started = performance.now();
    const created = await client().sessions.createWithResponse(sessionBody());
    const elapsedMs = performance.now() - started;
    await server.admin.setFaults({});

    const throttled = count(await server.admin.counters(), CREATE, 429);
    expect(throttled).toBeGreaterThanOrEqual(1);
    expect(created.attempts).toBe(throttled + 1);
    // Every 429 said "Retry-After: 1"; the backoff alone would have waited at most 10 ms.
    expect(elapsedMs).toBeGreaterThanOrEqual(throttled * 1000);
  });

  it("retries 503s on revoke, which is idempotent, into one revoked session", async () => {
    const klarefi = client();
    const created = await klarefi.sessions.create(sessionBody({ external_case_id: "claim_retry_503" }));
    await server.admin.setFaults({ seed: 9, rate503: 0.6, retryAfterSeconds: 0 });
    const revoked = await klarefi.sessions.revoke(created.session_id);
    await server.admin.setFaults({});
    expect(revoked.status).toBe("revoked");
    const counters = await server.admin.counters();
    expect(count(counters, REVOKE, 503)).toBeGreaterThanOrEqual(1);
    expect(count(counters, REVOKE, 200)).toBe(1);
  });

  it("retries a create whose answer was lost into the same session, not a second one", async () => {
    await server.admin.setFaults({ seed: 1, commitThenDrop: 0.5 });
    const body = sessionBody({ external_case_id: "claim_commit_drop" });
    const created = await client().sessions.createWithResponse(body);
    await server.admin.setFaults({});

    const counters = await server.admin.counters();
    expect(count(counters, CREATE, 201, true)).toBeGreaterThanOrEqual(1);
    expect(count(counters, CREATE, 201, false)).toBe(1);
    // The first answer was dropped after the commit, so the one that arrived is a replay.
    expect(created.replayed).toBe(true);
    expect(created.attempts).toBe(count(counters, CREATE, 201, true) + 1);
    const stored = await server.admin.sessions({ external_case_id: "claim_commit_drop" });
    expect(stored).toHaveLength(1);
    expect(stored[0]?.session_id).toBe(created.session.session_id);
    expect(stored[0]?.idempotency_key).toBe(body.idempotency_key);
  });

  it("lets a caller repeat a create whose answer was lost, with the same key, and get the committed session", async () => {
    await server.admin.setFaults({ commitThenDrop: 1 });
    const body = sessionBody({ external_case_id: "claim_lost_answer" });
    const lost = await client({ maxRetries: 0 }).sessions.create(body).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(KlarefiConnectionError);
    await server.admin.setFaults({});

    const committed = await server.admin.sessions({ external_case_id: "claim_lost_answer" });
    expect(committed).toHaveLength(1);
    const again = await client().sessions.createWithResponse(body);
    expect(again.replayed).toBe(true);
    expect(again.session.session_id).toBe(committed[0]?.session_id);
    expect(await server.admin.sessions({ external_case_id: "claim_lost_answer" })).toHaveLength(1);
  });

  it("waits out a duplicate create still in flight (409 idempotency_key_in_use) and gets the same session", async () => {
    // The first create holds its key for 1 s after taking it.
    await server.admin.setFaults({ latencyMs: 1000 });
    const body = sessionBody({ external_case_id: "claim_in_flight" });
    const first = client().sessions.createWithResponse(body);
    await waitForHeldKey(server, body.idempotency_key);
    const second = client().sessions.createWithResponse(body);
    const [a, b] = await Promise.all([first, second]);
    await server.admin.setFaults({});

    expect(b.session.session_id).toBe(a.session.session_id);
    const counters = await server.admin.counters();
    expect(count(counters, CREATE, 409)).toBeGreaterThanOrEqual(1);
    expect(await server.admin.sessions({ external_case_id: "claim_in_flight" })).toHaveLength(1);
  });

  it("gives up after maxRetries and reports the last answer", async () => {
    await server.admin.setFaults({ rate503: 1, retryAfterSeconds: 0 });
    const error = await client({ maxRetries: 2 }).sessions.retrieve("ses_any").catch((e: unknown) => e);
    const counters = await server.admin.counters();
    await server.admin.setFaults({});
    expect(error).toBeInstanceOf(KlarefiApiError);
    expect((error as KlarefiError).status).toBe(503);
    expect(count(counters, "GET /api/v1/sessions/{id}", 503)).toBe(3);
    expectNoSecrets([(error as Error).message, String((error as Error).stack), inspect(error), ...logLines]);
  });

  it("does not retry a 4xx other than 409 in use", async () => {
    const error = await client().sessions.create(sessionBody({ case_type_id: "motor_clam" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlarefiError);
    const counters = await server.admin.counters();
    expect(count(counters, CREATE, 422)).toBe(1);
    expectNoSecrets([(error as Error).message, inspect(error), ...logLines]);
  });
});

describe("secrets in logs and messages", () => {
  it("never logs the API key or a signed URL", async () => {
    await server.admin.setFaults({ seed: 7, rate429: 0.3, rate503: 0.3, retryAfterSeconds: 0 });
    const session = await client().sessions.create(sessionBody());
    await server.admin.setFaults({});
    const throttled = (await server.admin.counters()).filter((c) => c.status === 429 || c.status === 503);
    expect(throttled.length, "retried answers that were logged").toBeGreaterThan(0);
    expectNoSecrets(logLines, session.signed_url);
  });
});
