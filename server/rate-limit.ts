/**
 * @module
 * The local server's rate limit: one token bucket per API key, refilled at
 * `rps` tokens a second up to `burst`, one token per authenticated `/api/v1`
 * request. A request that finds the bucket empty is answered 429
 * `rate_limited` with `Retry-After`. While a limit is set every authenticated
 * `/api/v1` answer carries the `RateLimit-Policy` and `RateLimit` fields of
 * draft-ietf-httpapi-ratelimit-headers-11 (structured fields, RFC 9651):
 *
 *     RateLimit-Policy: "default";q=100;w=1
 *     RateLimit: "default";r=17;t=1
 *
 * `q` requests per `w` seconds is the refill rate (`w` is 1, `q` is `rps`);
 * `r` is the whole tokens left after this request; `t` the seconds (rounded
 * up) until the bucket is full again. The real Klarefi API is assumed to
 * send these fields (docs/klarefi-api.md, "Assumptions: rate limits").
 *
 * The bucket arithmetic is pure (`takeToken`) so it is table-tested with an
 * injected clock; `RateLimiter` holds the buckets and the configuration.
 */
import { z } from "zod";

const count = (name: string) =>
  z
    .int({ error: `${name} must be a whole number` })
    .min(1, { error: `${name} must be from 1 to 100000` })
    .max(100_000, { error: `${name} must be from 1 to 100000` });

/** A rate limit: `rps` requests a second per API key on average, up to `burst` at once. */
export const RateLimitConfig = z.strictObject({
  /** Tokens added per second (the sustained rate per API key). */
  rps: count("rps"),
  /** Bucket size: requests one key may send at once after being idle. Defaults to `rps`. */
  burst: count("burst").optional(),
  /**
   * Send the `RateLimit` and `RateLimit-Policy` fields (default true). false
   * plays an API that refuses with 429 and `Retry-After` but does not
   * advertise its limit, to exercise the client's adaptive pacing.
   */
  headers: z.boolean({ error: "headers must be true or false" }).optional(),
});
export type RateLimitConfig = z.infer<typeof RateLimitConfig>;
/** A rate limit as the server runs it, `burst` and `headers` filled in. */
export type ResolvedRateLimit = Required<RateLimitConfig>;

/** The policy name in the `RateLimit` and `RateLimit-Policy` fields. */
export const RATE_LIMIT_POLICY_NAME = "default";

/** One API key's bucket: tokens (fractional) at `atMs` (milliseconds of a monotonic clock). */
export interface TokenBucket {
  tokens: number;
  atMs: number;
}

/** What one request drew from a bucket. */
export interface TokenDecision {
  allowed: boolean;
  /** The bucket after the draw. */
  bucket: TokenBucket;
  /** Whole tokens left after the draw (the `r` parameter). */
  remaining: number;
  /** Seconds, rounded up, until the bucket is full (the `t` parameter). */
  resetSeconds: number;
  /** Seconds, rounded up and at least 1, until one token is back; for `Retry-After` when refused. */
  retryAfterSeconds: number;
}

/** A full bucket, as a key finds it on its first request. */
export function fullBucket(limit: Pick<ResolvedRateLimit, "burst">, nowMs: number): TokenBucket {
  return { tokens: limit.burst, atMs: nowMs };
}

/**
 * Refills `bucket` up to `nowMs` and takes one token if there is a whole one.
 * Pure: the caller stores the returned bucket. A clock that went backwards
 * adds nothing.
 */
export function takeToken(limit: Pick<ResolvedRateLimit, "rps" | "burst">, bucket: TokenBucket, nowMs: number): TokenDecision {
  const elapsedS = Math.max(0, nowMs - bucket.atMs) / 1000;
  let tokens = Math.min(limit.burst, bucket.tokens + elapsedS * limit.rps);
  const allowed = tokens >= 1;
  if (allowed) tokens -= 1;
  const next: TokenBucket = { tokens, atMs: Math.max(nowMs, bucket.atMs) };
  // A hair of float error must not turn "full" into "full in 1 second".
  const missing = Math.max(0, limit.burst - tokens);
  const resetSeconds = missing < 1e-9 ? 0 : Math.ceil(missing / limit.rps);
  const retryAfterSeconds = Math.max(1, Math.ceil((1 - Math.min(1, tokens)) / limit.rps));
  return { allowed, bucket: next, remaining: Math.floor(tokens + 1e-9), resetSeconds, retryAfterSeconds };
}

/** The `RateLimit-Policy` field value of a limit. */
export function rateLimitPolicyField(limit: Pick<ResolvedRateLimit, "rps">): string {
  return `"${RATE_LIMIT_POLICY_NAME}";q=${limit.rps};w=1`;
}

/** The `RateLimit` field value after a draw. */
export function rateLimitField(decision: Pick<TokenDecision, "remaining" | "resetSeconds">): string {
  return `"${RATE_LIMIT_POLICY_NAME}";r=${decision.remaining};t=${decision.resetSeconds}`;
}

/** Fills in the defaults: `burst` is `rps` when omitted, `headers` true. */
export function resolveRateLimit(config: RateLimitConfig): ResolvedRateLimit {
  return { rps: config.rps, burst: config.burst ?? config.rps, headers: config.headers ?? true };
}

/**
 * The server's buckets, keyed by API key scope (a hash of the key, never the
 * key), and the limit in force (null: no limit).
 */
export class RateLimiter {
  #limit: ResolvedRateLimit | null;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #now: () => number;

  /** `now` is a monotonic clock in milliseconds (`performance.now` by default), not the server's movable clock. */
  constructor(config: RateLimitConfig | null = null, now: () => number = () => performance.now()) {
    this.#limit = config === null ? null : resolveRateLimit(RateLimitConfig.parse(config));
    this.#now = now;
  }

  /** The limit in force, or null when requests are not limited. */
  get limit(): ResolvedRateLimit | null {
    return this.#limit === null ? null : { ...this.#limit };
  }

  /** Replaces the limit (null removes it); every key starts again from a full bucket. */
  configure(config: RateLimitConfig | null): ResolvedRateLimit | null {
    this.#limit = config === null ? null : resolveRateLimit(RateLimitConfig.parse(config));
    this.#buckets.clear();
    return this.limit;
  }

  /** Fills every bucket again (the limit stays). */
  refill(): void {
    this.#buckets.clear();
  }

  /** Draws one token for `scope`; undefined when no limit is set. */
  take(scope: string): (TokenDecision & { limit: ResolvedRateLimit }) | undefined {
    const limit = this.#limit;
    if (limit === null) return undefined;
    const now = this.#now();
    const decision = takeToken(limit, this.#buckets.get(scope) ?? fullBucket(limit, now), now);
    this.#buckets.set(scope, decision.bucket);
    return { ...decision, limit };
  }
}
