import { describe, expect, it } from "vitest";
import { decideRetry, isConnectionFailure, isRetryable, networkFailureOf, type NetworkFailure, type RetryInput, type RetryOutcome } from "../../client/retry";
import { KlarefiConnectionError } from "../../client/errors";
import { parseRetryAfter } from "../../client/errors";

const base = { maxRetries: 3, initialDelayMs: 100, maxDelayMs: 1000, now: Date.parse("2030-01-01T00:00:00Z") };
const resp = (status: number, extra: Partial<Extract<RetryOutcome, { kind: "response" }>> = {}): RetryOutcome => ({
  kind: "response",
  status,
  ...extra,
});

describe("which outcomes are retried", () => {
  const table: Array<[string, RetryOutcome, boolean]> = [
    ["429 rate limited", resp(429), true],
    ["500 internal error", resp(500), true],
    ["502 bad gateway", resp(502), true],
    ["503 unavailable", resp(503), true],
    ["504 gateway timeout", resp(504), true],
    ["409 idempotency_key_in_use", resp(409, { code: "idempotency_key_in_use" }), true],
    ["a network error", { kind: "network" }, true],
    ["a timeout", { kind: "network", timeout: true }, true],
    ["a refused connection", { kind: "network", failure: "refused" }, false],
    ["a host name that does not exist", { kind: "network", failure: "dns" }, false],
    ["a failed TLS handshake", { kind: "network", failure: "tls" }, false],
    ["a resolver that cannot answer yet", { kind: "network", failure: "dns-retry" }, true],
    ["a reset connection", { kind: "network", failure: "reset" }, true],
    ["no route to the host", { kind: "network", failure: "unreachable" }, true],
    ["a connect timeout", { kind: "network", timeout: true, failure: "connect-timeout" }, true],
    ["400 bad request", resp(400), false],
    ["401 unauthorized", resp(401), false],
    ["403 forbidden", resp(403), false],
    ["404 not found", resp(404), false],
    ["409 with another code", resp(409, { code: "conflict" }), false],
    ["422 idempotency_key_reused", resp(422, { code: "idempotency_key_reused" }), false],
    ["422 invalid request", resp(422, { code: "invalid_request" }), false],
    ["501 not implemented", resp(501), false],
  ];
  it.each(table)("%s is retryable: %s", (_name, outcome, expected) => {
    expect(isRetryable(outcome)).toBe(expected);
    const decision = decideRetry({ ...base, attempt: 0, outcome, random: () => 0.5 });
    expect(decision.retry).toBe(expected);
  });
});

describe("backoff with full jitter", () => {
  const table: Array<[number, number, number]> = [
    // attempt, random, expected delay: random * min(max, initial * 2^attempt)
    [0, 0.5, 50],
    [1, 0.5, 100],
    [2, 0.5, 200],
    [2, 0.999, 399],
    [0, 0, 0],
    [3, 0.5, 400],
  ];
  it.each(table)("attempt %i with random %f waits %i ms", (attempt, r, expected) => {
    const decision = decideRetry({ ...base, maxRetries: 10, attempt, outcome: resp(503), random: () => r });
    expect(decision).toMatchObject({ retry: true, delayMs: expected });
  });

  it("caps the jitter ceiling at maxDelayMs however many attempts came before", () => {
    const decision = decideRetry({ ...base, maxRetries: 100, attempt: 40, outcome: resp(500), random: () => 0.999 });
    expect(decision).toMatchObject({ retry: true, delayMs: 999 });
  });

  it("treats a random source outside [0, 1) as its nearest bound", () => {
    expect(decideRetry({ ...base, attempt: 0, outcome: resp(500), random: () => 7 })).toMatchObject({ delayMs: 100 });
    expect(decideRetry({ ...base, attempt: 0, outcome: resp(500), random: () => Number.NaN })).toMatchObject({ delayMs: 0 });
  });
});

describe("Retry-After", () => {
  const input = (retryAfterHeader: string, extra: Partial<RetryInput> = {}): RetryInput => ({
    ...base,
    attempt: 0,
    outcome: resp(429, { retryAfterHeader }),
    random: () => 0.5,
    ...extra,
  });

  it("raises the delay to Retry-After seconds when the jitter is shorter", () => {
    expect(decideRetry(input("2"))).toMatchObject({ retry: true, delayMs: 2000 });
  });

  it("keeps the jitter delay when it is longer than Retry-After", () => {
    expect(decideRetry(input("0", { attempt: 2, random: () => 0.9 }))).toMatchObject({ delayMs: 360 });
  });

  it("reads an HTTP date relative to now", () => {
    expect(decideRetry(input("Tue, 01 Jan 2030 00:00:05 GMT"))).toMatchObject({ delayMs: 5000 });
  });

  it("caps an honoured Retry-After at 60 seconds", () => {
    expect(decideRetry(input("3600"))).toMatchObject({ delayMs: 60_000 });
    expect(decideRetry(input("3600", { maxRetryAfterMs: 1500 }))).toMatchObject({ delayMs: 1500 });
  });

  it("ignores an unreadable Retry-After", () => {
    expect(decideRetry(input("soon"))).toMatchObject({ delayMs: 50 });
  });

  it("does not let Retry-After make a non-retryable status retryable", () => {
    expect(decideRetry({ ...input("1"), outcome: resp(400, { retryAfterHeader: "1" }) }).retry).toBe(false);
  });

  const parseTable: Array<[string | undefined, number | undefined]> = [
    [undefined, undefined],
    ["", undefined],
    ["0", 0],
    ["1", 1000],
    [" 30 ", 30_000],
    ["1.5", 1500],
    ["-1", undefined],
    ["Tue, 01 Jan 2030 00:00:05 GMT", 5000],
    ["Mon, 31 Dec 2029 23:59:00 GMT", 0],
    ["later", undefined],
  ];
  it.each(parseTable)("parseRetryAfter(%j) is %j ms", (header, expected) => {
    expect(parseRetryAfter(header, base.now)).toBe(expected);
  });
});

describe("the retry budget", () => {
  it("retries attempts 0 to maxRetries-1 and stops at maxRetries", () => {
    const decisions = [0, 1, 2, 3, 4].map((attempt) =>
      decideRetry({ ...base, attempt, outcome: { kind: "network" }, random: () => 0.1 }).retry,
    );
    expect(decisions).toEqual([true, true, true, false, false]);
  });

  it("never retries when maxRetries is 0", () => {
    expect(decideRetry({ ...base, maxRetries: 0, attempt: 0, outcome: resp(503), random: () => 0.1 }).retry).toBe(false);
  });

  it("says why it gave up", () => {
    const decision = decideRetry({ ...base, attempt: 3, outcome: resp(503), random: () => 0.1 });
    expect(decision).toEqual({ retry: false, reason: "status 503 after 4 attempts, retry budget of 3 spent" });
  });
});

describe("network failures by error code", () => {
  const table: Array<[string | undefined, NetworkFailure, boolean]> = [
    ["ECONNREFUSED", "refused", true],
    ["ENOTFOUND", "dns", true],
    ["EAI_AGAIN", "dns-retry", true],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "tls", true],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls", true],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "tls", true],
    ["EPROTO", "tls", true],
    ["EHOSTUNREACH", "unreachable", true],
    ["UND_ERR_CONNECT_TIMEOUT", "connect-timeout", true],
    ["ECONNRESET", "reset", true],
    ["UND_ERR_SOCKET", "reset", true],
    ["UND_ERR_HEADERS_TIMEOUT", "timeout", false],
    ["ETIMEDOUT", "timeout", false],
    ["EWHATEVER", "other", false],
    [undefined, "other", false],
  ];
  it.each(table)("%s is %s; the API counts as unreachable: %s", (code, failure, unreachable) => {
    expect(networkFailureOf(code)).toBe(failure);
    expect(isConnectionFailure(new KlarefiConnectionError("x", { operation: "x", failure }))).toBe(unreachable);
  });

  it("does not count an error without a network reason, or of another class, as unreachable", () => {
    expect(isConnectionFailure(new KlarefiConnectionError("aborted", { operation: "x" }))).toBe(false);
    expect(isConnectionFailure(Object.assign(new Error("x"), { failure: "refused" }))).toBe(false);
  });
});

describe("429s and their own retry allowance", () => {
  const r429 = resp(429, { code: "rate_limited", retryAfterHeader: "1" });
  const table: Array<[string, Partial<RetryInput>, { retry: boolean; budget?: "retries" | "rate_limit" }]> = [
    ["a 429 with allowance left is retried from it", { attempt: 0, rateLimitRetries: 0, maxRateLimitRetries: 10, outcome: r429 }, { retry: true, budget: "rate_limit" }],
    ["a 429 with the ordinary budget spent is still retried from its allowance", { attempt: 3, rateLimitRetries: 9, maxRateLimitRetries: 10, outcome: r429 }, { retry: true, budget: "rate_limit" }],
    ["a 429 past its allowance falls back on the ordinary budget", { attempt: 0, rateLimitRetries: 10, maxRateLimitRetries: 10, outcome: r429 }, { retry: true, budget: "retries" }],
    ["a 429 past both is not retried", { attempt: 3, rateLimitRetries: 10, maxRateLimitRetries: 10, outcome: r429 }, { retry: false }],
    ["without an allowance a 429 uses the ordinary budget", { attempt: 0, outcome: r429 }, { retry: true, budget: "retries" }],
    ["maxRetries 0 turns 429 retries off too", { attempt: 0, maxRetries: 0, rateLimitRetries: 0, maxRateLimitRetries: 10, outcome: r429 }, { retry: false }],
    ["a 503 never draws on the 429 allowance", { attempt: 3, rateLimitRetries: 0, maxRateLimitRetries: 10, outcome: resp(503) }, { retry: false }],
  ];
  it.each(table)("%s", (_name, input, expected) => {
    const decision = decideRetry({ ...base, attempt: 0, outcome: r429, random: () => 0.5, ...input });
    expect(decision.retry).toBe(expected.retry);
    if (decision.retry) expect(decision.budget).toBe(expected.budget);
  });

  it("waits at least the Retry-After of a 429 retried from its allowance", () => {
    const decision = decideRetry({ ...base, attempt: 0, outcome: r429, random: () => 0, rateLimitRetries: 0, maxRateLimitRetries: 10 });
    expect(decision).toMatchObject({ retry: true, delayMs: 1000, budget: "rate_limit" });
  });
});
