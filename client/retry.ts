/**
 * @module
 * The client's retry policy, as a pure function so it can be table-tested.
 *
 * Retried: 429, 500/502/503/504, 409 `idempotency_key_in_use` (the first
 * request with that key is still running), network errors and timeouts.
 * Never retried: any other 4xx (the same request would fail the same way).
 * Delays are exponential backoff with full jitter,
 * `random() * min(maxDelayMs, initialDelayMs * 2^attempt)`, raised to the
 * server's `Retry-After` (capped at `maxRetryAfterMs`) when it sent one.
 * Safe because creates carry one idempotency key that is sent unchanged on
 * every attempt, and revoke is idempotent.
 */
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from "./errors";

/** Default first backoff ceiling. */
export const DEFAULT_INITIAL_DELAY_MS = 500;
/** Default largest backoff ceiling. */
export const DEFAULT_MAX_DELAY_MS = 8_000;
/** Default number of retries after the first attempt. */
export const DEFAULT_MAX_RETRIES = 3;

/** Statuses that mean "try again later" whatever the body says. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/** What the attempt that just ended produced. */
export type RetryOutcome =
  | { kind: "response"; status: number; code?: string; retryAfterHeader?: string }
  | { kind: "network"; timeout?: boolean };

export interface RetryInput {
  /** 0-based index of the attempt that just failed (0 = the first request). */
  attempt: number;
  /** Retries allowed after the first attempt; 0 disables retrying. */
  maxRetries: number;
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
  | { retry: true; delayMs: number; reason: string };

/** Whether an outcome is worth another attempt, ignoring the retry budget. */
export function isRetryable(outcome: RetryOutcome): boolean {
  if (outcome.kind === "network") return true;
  if (RETRYABLE_STATUSES.has(outcome.status)) return true;
  return outcome.status === 409 && outcome.code === "idempotency_key_in_use";
}

/** Decides whether to retry after a failed attempt, and how long to wait first. */
export function decideRetry(input: RetryInput): RetryDecision {
  const { attempt, maxRetries, outcome } = input;
  const what = describe(outcome);
  if (!isRetryable(outcome)) return { retry: false, reason: `${what} is not retryable` };
  if (attempt >= maxRetries) {
    return { retry: false, reason: `${what} after ${attempt + 1} attempts, retry budget of ${maxRetries} spent` };
  }
  const ceiling = Math.min(input.maxDelayMs, input.initialDelayMs * 2 ** attempt);
  const jitter = clamp01(input.random());
  let delayMs = Math.floor(jitter * Math.max(0, ceiling));
  if (outcome.kind === "response") {
    const retryAfterMs = parseRetryAfter(outcome.retryAfterHeader, input.now ?? Date.now());
    if (retryAfterMs !== undefined) {
      delayMs = Math.max(delayMs, Math.min(retryAfterMs, input.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS));
    }
  }
  return { retry: true, delayMs, reason: `${what}, retry ${attempt + 1} of ${maxRetries} in ${delayMs} ms` };
}

function describe(outcome: RetryOutcome): string {
  if (outcome.kind === "network") return outcome.timeout ? "timeout" : "network error";
  return outcome.code === undefined ? `status ${outcome.status}` : `status ${outcome.status} ${outcome.code}`;
}

function clamp01(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 1 : x;
}
