import { inspect } from "node:util";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  Klarefi,
  KlarefiApiError,
  KlarefiAuthenticationError,
  KlarefiConflictError,
  KlarefiConnectionError,
  KlarefiError,
  KlarefiNotFoundError,
  KlarefiRateLimitError,
  KlarefiTimeoutError,
  KlarefiValidationError,
} from "../../client";
import { closedPort, sessionBody, useTestServer, waitForHeldKey } from "../helpers/server";

/** Every error class, produced from a real answer of the local server. */

const server = useTestServer({ dbPath: ":memory:" });
const clients: Klarefi[] = [];
/** Debug lines the clients logged during the current test (emptied before each test). */
const logLines: string[] = [];

function client(options: ConstructorParameters<typeof Klarefi>[0] = {}): Klarefi {
  const klarefi = new Klarefi({
    apiKey: server.apiKey,
    baseUrl: server.url,
    maxRetries: 0,
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
    logger: { debug: (line) => logLines.push(line) },
    ...options,
  });
  clients.push(klarefi);
  return klarefi;
}

/**
 * Awaits a call that must fail and checks that neither the error nor the
 * lines the client logged for it carry the server's API key. A call that got
 * an answer (or tried to) logged at least one line; `logs: false` is for a
 * call refused before any attempt.
 */
async function failure(promise: Promise<unknown>, { logs = true }: { logs?: boolean } = {}): Promise<KlarefiError> {
  const error = await promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KlarefiError);
  if (logs) expect(logLines.length, "debug lines logged by this call").toBeGreaterThan(0);
  const e = error as KlarefiError;
  for (const text of [e.message, String(e.stack), inspect(e), ...logLines]) expect(text).not.toContain(server.apiKey);
  return e;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

beforeEach(async () => {
  logLines.length = 0;
});

describe("errors from real server answers", () => {
  it("a wrong key gives KlarefiAuthenticationError without the key in the message", async () => {
    const wrongKey = "sk_test_wrong_key_0123456789";
    const error = await failure(client({ apiKey: wrongKey }).sessions.create(sessionBody()));
    expect(error).toBeInstanceOf(KlarefiAuthenticationError);
    expect(error).toMatchObject({ status: 401, type: "authentication_error", code: "invalid_api_key" });
    expect(error.requestId).toMatch(/^req_/);
    expect(error.message).toBe(`Creating intake session failed: 401 The API key provided is not valid (request ${error.requestId})`);
    for (const text of [error.message, String(error.stack), inspect(error)]) expect(text).not.toContain(wrongKey);
  });

  it("an unknown case type gives KlarefiValidationError naming the field and the request", async () => {
    const error = await failure(client().sessions.create(sessionBody({ case_type_id: "motor_clam" })));
    expect(error).toBeInstanceOf(KlarefiValidationError);
    expect(error).toMatchObject({ status: 422, code: "unknown_case_type", param: "case_type_id" });
    expect(error.message).toMatch(/^Creating intake session failed: 422 Unknown case_type_id "motor_clam"; known case types: .* \(request req_\w+\)$/);
  });

  it.each([
    ["retrieve", (k: Klarefi) => k.sessions.retrieve("ses_doesnotexist"), "Retrieving intake session ses_doesnotexist"],
    ["revoke", (k: Klarefi) => k.sessions.revoke("ses_doesnotexist"), "Revoking intake session ses_doesnotexist"],
    ["case retrieve", (k: Klarefi) => k.cases.retrieve("ses_doesnotexist"), "Retrieving case ses_doesnotexist"],
  ])("a missing session on %s gives KlarefiNotFoundError", async (_name, call, operation) => {
    const error = await failure(call(client()));
    expect(error).toBeInstanceOf(KlarefiNotFoundError);
    expect(error.status).toBe(404);
    expect(error.operation).toBe(operation);
    expect(error.message.startsWith(`${operation} failed: 404 `)).toBe(true);
    expect(error.message).toMatch(/\(request req_\w+\)$/);
  });

  it("reusing an idempotency key with another body gives KlarefiConflictError, not retried", async () => {
    const klarefi = client({ maxRetries: 3 });
    const body = sessionBody();
    await klarefi.sessions.create(body);
    const error = await failure(klarefi.sessions.create({ ...body, external_applicant_id: "someone_else" }));
    expect(error).toBeInstanceOf(KlarefiConflictError);
    expect(error).toMatchObject({ status: 422, type: "idempotency_error", code: "idempotency_key_reused" });
  });

  it("a key still in flight gives KlarefiConflictError with idempotency_key_in_use when retries are off", async () => {
    // The first create holds its key for 1.5 s after taking it.
    await server.admin.setFaults({ latencyMs: 1500 });
    const body = sessionBody();
    const first = client().sessions.create(body);
    await waitForHeldKey(server, body.idempotency_key);
    const error = await failure(client().sessions.create(body));
    expect(error).toBeInstanceOf(KlarefiConflictError);
    expect(error).toMatchObject({ status: 409, code: "idempotency_key_in_use" });
    expect((await first).idempotency_key).toBe(body.idempotency_key);
  });

  it("an injected 429 gives KlarefiRateLimitError with the server's Retry-After", async () => {
    await server.admin.setFaults({ seed: 1, rate429: 1, retryAfterSeconds: 2 });
    const error = await failure(client().sessions.create(sessionBody()));
    expect(error).toBeInstanceOf(KlarefiRateLimitError);
    expect(error).toMatchObject({ status: 429, type: "rate_limit_error", retryAfterMs: 2000 });
  });

  it.each([
    [500, { rate500: 1 }],
    [503, { rate503: 1 }],
  ])("an injected %i gives KlarefiApiError", async (status, faults) => {
    await server.admin.setFaults({ seed: 1, retryAfterSeconds: 0, ...faults });
    const error = await failure(client().sessions.retrieve("ses_whatever"));
    expect(error).toBeInstanceOf(KlarefiApiError);
    expect(error.status).toBe(status);
    expect(error.message).toMatch(new RegExp(`^Retrieving intake session ses_whatever failed: ${status} .* \\(request req_\\w+\\)$`));
  });

  it("carries the client's trace id back on errors", async () => {
    const error = await failure(client({ traceId: "trace_support_42" }).sessions.retrieve("ses_missing"));
    expect(error.traceId).toBe("trace_support_42");
  });

  it("a server slower than timeoutMs gives KlarefiTimeoutError", async () => {
    await server.admin.setFaults({ latencyMs: 1500 });
    const error = await failure(client({ timeoutMs: 200 }).sessions.retrieve("ses_slow"));
    expect(error).toBeInstanceOf(KlarefiTimeoutError);
    expect(error).toBeInstanceOf(KlarefiConnectionError);
    expect(error.message).toBe(`Retrieving intake session ses_slow failed: no answer from ${server.url} within 200 ms (1 attempt)`);
  });

  it("a port nobody listens on gives KlarefiConnectionError after one attempt, naming where the base URL came from", async () => {
    const port = await closedPort();
    const error = await failure(client({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 6 }).cases.retrieve("ses_1"));
    expect(error).toBeInstanceOf(KlarefiConnectionError);
    expect(error).not.toBeInstanceOf(KlarefiTimeoutError);
    expect(error.message).toBe(
      `Retrieving case ses_1 failed: could not reach http://127.0.0.1:${port} (ECONNREFUSED) (1 attempt); check the baseUrl option and that the API is up`,
    );
  });

  it("a closed client refuses further calls", async () => {
    const klarefi = client();
    await klarefi.close();
    const error = await failure(klarefi.sessions.retrieve("ses_1"), { logs: false });
    expect(error).toBeInstanceOf(KlarefiConnectionError);
    expect(error.message).toContain("the Klarefi client was closed");
  });
});
