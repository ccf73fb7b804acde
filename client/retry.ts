/**
 * @module
 * The client's retry policy, as a pure function so it can be table-tested.
 *
 * Retried: 429, 500/502/503/504, 409 `idempotency_key_in_use` (the first
 * request with that key is still running), broken connections (reset,
 * closed socket, unreachable network, a resolver that could not answer yet)
 * and timeouts.
 * Never retried: any other 4xx (the same request would fail the same way),
 * and the network failures that say the base URL itself is wrong (see
 * {@link networkFailureOf}): a refused connection, a host name that does not
 * exist, a TLS handshake that failed.
 * Delays are exponential backoff with full jitter,
 * `random() * min(maxDelayMs, initialDelayMs * 2^attempt)`, raised to the
 * server's `Retry-After` (capped at `maxRetryAfterMs`) when it sent one.
 * Safe because creates carry one idempotency key that is sent unchanged on
 * every attempt, and revoke is idempotent.
 *
 * A 429 draws first on its own allowance, `maxRateLimitRetries`, and only
 * then on `maxRetries`. A 429 says nothing is wrong with the request, only
 * that it came too soon; the client's pacer (pacing.ts) slows down on it, so
 * with the defaults a paced campaign spends a few rate-limit retries and no
 * row fails for rate limiting, while `maxRetries` keeps its meaning for
 * errors and outages. `maxRetries: 0` still turns every retry off, 429s
 * included.
 */
import { KlarefiConnectionError, MAX_RETRY_AFTER_MS, type NetworkFailure, parseRetryAfter } from "./errors";

/** Default first backoff ceiling. */
export const DEFAULT_INITIAL_DELAY_MS = 500;
/** Default largest backoff ceiling. */
export const DEFAULT_MAX_DELAY_MS = 8_000;
/** Default number of retries after the first attempt. */
export const DEFAULT_MAX_RETRIES = 3;
/** Default number of 429 retries made before a 429 counts against `maxRetries`. */
export const DEFAULT_MAX_RATE_LIMIT_RETRIES = 10;

/** Statuses that mean "try again later" whatever the body says. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

export type { NetworkFailure };

const NETWORK_FAILURES: Record<string, NetworkFailure> = {
  ECONNREFUSED: "refused",
  ENOTFOUND: "dns",
  EAI_NONAME: "dns",
  EAI_AGAIN: "dns-retry",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EHOSTDOWN: "unreachable",
  ENETDOWN: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  UND_ERR_CONNECT_TIMEOUT: "connect-timeout",
  ECONNRESET: "reset",
  EPIPE: "reset",
  ECONNABORTED: "reset",
  UND_ERR_SOCKET: "reset",
  UND_ERR_CLOSED: "reset",
  UND_ERR_HEADERS_TIMEOUT: "timeout",
  UND_ERR_BODY_TIMEOUT: "timeout",
  ETIMEDOUT: "timeout",
};

/** The kind of network failure an error code names (see {@link NetworkFailure}); `other` when unknown or absent. */
export function networkFailureOf(code: string | undefined): NetworkFailure {
  if (code === undefined) return "other";
  const known = NETWORK_FAILURES[code];
  if (known !== undefined) return known;
  if (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_(GET|VERIFY)_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|EPROTO$)/.test(code)) return "tls";
  return "other";
}

/**
 * Network failures that no retry can fix within a run: the base URL points
 * at a port nobody listens on, a host that does not exist, or a server whose
 * TLS the client refuses. Retrying them only multiplies the wait: with the
 * provider's 6 retries a refused connection took 7 attempts and about 12 s
 * of backoff per call before the user learnt that the URL was wrong. A server
 * that restarts answers 502/503 behind its load balancer (retried); a refused
 * connection means there is no server at that address.
 */
export const UNRETRIED_NETWORK_FAILURES: ReadonlySet<NetworkFailure> = new Set(["refused", "dns", "tls"]);

/**
 * Network failures that say the API cannot be reached at all, rather than
 * that one call was slow or broke: what the bulk campaign counts to stop
 * starting rows against an unreachable API.
 */
export const CONNECTION_FAILURES: ReadonlySet<NetworkFailure> = new Set(["refused", "dns", "dns-retry", "tls", "unreachable", "connect-timeout", "reset"]);

/**
 * Whether `error` says the API cannot be reached (a `KlarefiConnectionError`
 * whose failure is one of {@link CONNECTION_FAILURES}); an answer of any
 * status, a slow answer, an aborted call or a closed client are not.
 */
export function isConnectionFailure(error: unknown): boolean {
  return error instanceof KlarefiConnectionError && error.failure !== undefined && CONNECTION_FAILURES.has(error.failure);
}

/** What the attempt that just ended produced. */
export type RetryOutcome =
  | { kind: "response"; status: number; code?: string; retryAfterHeader?: string }
  | { kind: "network"; timeout?: boolean; failure?: NetworkFailure };

export interface RetryInput {
  /** 0-based index of the attempt that just failed (0 = the first request). */
  attempt: number;
  /** Retries allowed after the first attempt; 0 disables retrying. */
  maxRetries: number;
  /** 429 retries already made from their own allowance. Default 0. */
  rateLimitRetries?: number;
  /** The 429s' own allowance, spent before `maxRetries`. Default 0: 429s use `maxRetries` like any error. */
  maxRateLimitRetries?: number;
  outcome: RetryOutcome;
  /** Uniform in [0, 1); `Math.random` in production, fixed in tests. */
  random: () => number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Epoch milliseconds, for `Retry-After` given as an HTTP date. */
  now?: number;
  /** Cap on an honoured `Retry-After`; default 60 s. */
  maxRetryAfterMs?: number;
}

export type RetryDecision =
  | { retry: false; reason: string }
  | {
      retry: true;
      delayMs: number;
      /** Which allowance the retry is taken from: `rate_limit` (a 429) or `retries`. */
      budget: "retries" | "rate_limit";
      reason: string;
    };

/** Whether an outcome is worth another attempt, ignoring the retry budget. */
export function isRetryable(outcome: RetryOutcome): boolean {
  if (outcome.kind === "network") return !UNRETRIED_NETWORK_FAILURES.has(outcome.failure ?? "other");
  if (RETRYABLE_STATUSES.has(outcome.status)) return true;
  return outcome.status === 409 && outcome.code === "idempotency_key_in_use";
}

/** Decides whether to retry after a failed attempt, and how long to wait first. */
export function decideRetry(input: RetryInput): RetryDecision {
  const { attempt, maxRetries, outcome } = input;
  const what = describe(outcome);
  if (!isRetryable(outcome)) return { retry: false, reason: `${what} is not retryable` };
  const rateLimitRetries = input.rateLimitRetries ?? 0;
  const maxRateLimitRetries = input.maxRateLimitRetries ?? 0;
  if (outcome.kind === "response" && outcome.status === 429 && maxRetries > 0 && rateLimitRetries < maxRateLimitRetries) {
    const delayMs = retryDelay(input, rateLimitRetries);
    return {
      retry: true,
      delayMs,
      budget: "rate_limit",
      reason: `${what}, rate-limit retry ${rateLimitRetries + 1} of ${maxRateLimitRetries} in ${delayMs} ms`,
    };
  }
  if (attempt >= maxRetries) {
    const spent = maxRateLimitRetries > 0 && rateLimitRetries > 0 ? ` (after ${rateLimitRetries} rate-limit retries)` : "";
    return { retry: false, reason: `${what} after ${attempt + 1} attempts, retry budget of ${maxRetries} spent${spent}` };
  }
  const delayMs = retryDelay(input, attempt);
  return { retry: true, delayMs, budget: "retries", reason: `${what}, retry ${attempt + 1} of ${maxRetries} in ${delayMs} ms` };
}

/** Full-jitter backoff for the `step`-th retry, raised to the `Retry-After` the API sent (capped). */
function retryDelay(input: RetryInput, step: number): number {
  const ceiling = Math.min(input.maxDelayMs, input.initialDelayMs * 2 ** step);
  const jitter = clamp01(input.random());
  let delayMs = Math.floor(jitter * Math.max(0, ceiling));
  const outcome = input.outcome;
  if (outcome.kind === "response") {
    const retryAfterMs = parseRetryAfter(outcome.retryAfterHeader, input.now ?? Date.now());
    if (retryAfterMs !== undefined) {
      delayMs = Math.max(delayMs, Math.min(retryAfterMs, input.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS));
    }
  }
  return delayMs;
}

function describe(outcome: RetryOutcome): string {
  if (outcome.kind === "network") {
    if (outcome.timeout) return "timeout";
    const failure = outcome.failure ?? "other";
    return failure === "other" ? "network error" : `network error (${failure})`;
  }
  return outcome.code === undefined ? `status ${outcome.status}` : `status ${outcome.status} ${outcome.code}`;
}

function clamp01(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 1 : x;
}
