import { describe, expect, it } from "vitest";
import { ApiError } from "../../server/errors";
import { checkDeclaredLength, MAX_BODY_BYTES } from "../../server/body";
import {
  fullBucket,
  RateLimitConfig,
  rateLimitField,
  rateLimitPolicyField,
  RateLimiter,
  resolveRateLimit,
  takeToken,
  type TokenBucket,
} from "../../server/rate-limit";

const limit = { rps: 10, burst: 3 };

describe("one request's draw from a token bucket", () => {
  const table: Array<[string, TokenBucket, number, { allowed: boolean; remaining: number; resetSeconds: number; retryAfterSeconds: number; tokens: number }]> = [
    // name, bucket before, now (ms), expected
    ["a full bucket lets it through and has 2 left", { tokens: 3, atMs: 0 }, 0, { allowed: true, remaining: 2, resetSeconds: 1, retryAfterSeconds: 1, tokens: 2 }],
    ["an empty bucket refuses it", { tokens: 0, atMs: 0 }, 0, { allowed: false, remaining: 0, resetSeconds: 1, retryAfterSeconds: 1, tokens: 0 }],
    ["an empty bucket refilled for 100 ms (one token) lets it through", { tokens: 0, atMs: 0 }, 100, { allowed: true, remaining: 0, resetSeconds: 1, retryAfterSeconds: 1, tokens: 0 }],
    ["half a token is not enough", { tokens: 0, atMs: 0 }, 50, { allowed: false, remaining: 0, resetSeconds: 1, retryAfterSeconds: 1, tokens: 0.5 }],
    ["refill stops at burst", { tokens: 0, atMs: 0 }, 60_000, { allowed: true, remaining: 2, resetSeconds: 1, retryAfterSeconds: 1, tokens: 2 }],
    ["a clock that went back adds nothing", { tokens: 1, atMs: 1000 }, 500, { allowed: true, remaining: 0, resetSeconds: 1, retryAfterSeconds: 1, tokens: 0 }],
  ];
  it.each(table)("%s", (_name, bucket, now, expected) => {
    const d = takeToken(limit, bucket, now);
    expect(d.allowed).toBe(expected.allowed);
    expect(d.remaining).toBe(expected.remaining);
    expect(d.resetSeconds).toBe(expected.resetSeconds);
    expect(d.retryAfterSeconds).toBe(expected.retryAfterSeconds);
    expect(d.bucket.tokens).toBeCloseTo(expected.tokens, 9);
  });

  it("asks a slow limit's refused client to wait as long as one token takes", () => {
    const d = takeToken({ rps: 1, burst: 1 }, { tokens: 0, atMs: 0 }, 0);
    expect(d).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    const slow = takeToken({ rps: 1, burst: 5 }, { tokens: 0.25, atMs: 0 }, 0);
    expect(slow.retryAfterSeconds).toBe(1);
    expect(slow.resetSeconds).toBe(5);
  });

  it("admits exactly burst + rps * seconds requests over a span when hammered", () => {
    let bucket = fullBucket(limit, 0);
    let admitted = 0;
    for (let t = 0; t <= 2000; t += 1) {
      const d = takeToken(limit, bucket, t);
      bucket = d.bucket;
      if (d.allowed) admitted += 1;
    }
    expect(admitted).toBe(3 + 20);
  });
});

describe("the RateLimit fields", () => {
  it("follow draft-ietf-httpapi-ratelimit-headers-11's structured-field syntax", () => {
    expect(rateLimitPolicyField({ rps: 100 })).toBe('"default";q=100;w=1');
    expect(rateLimitField({ remaining: 42, resetSeconds: 1 })).toBe('"default";r=42;t=1');
  });
});

describe("the rate-limit configuration", () => {
  const table: Array<[string, unknown, boolean]> = [
    ["rps and burst", { rps: 100, burst: 20 }, true],
    ["rps alone", { rps: 5 }, true],
    ["headers off", { rps: 5, headers: false }, true],
    ["rps 0", { rps: 0 }, false],
    ["a fractional rps", { rps: 1.5 }, false],
    ["burst 0", { rps: 1, burst: 0 }, false],
    ["an unknown field", { rps: 1, window: 2 }, false],
    ["no rps", { burst: 3 }, false],
  ];
  it.each(table)("%s is valid: %s", (_name, value, valid) => {
    expect(RateLimitConfig.safeParse(value).success).toBe(valid);
  });

  it("defaults burst to rps and headers to on", () => {
    expect(resolveRateLimit({ rps: 7 })).toEqual({ rps: 7, burst: 7, headers: true });
  });
});

describe("RateLimiter", () => {
  it("keeps a bucket per key, and starts every key full again when the limit changes", () => {
    let now = 0;
    const limiter = new RateLimiter({ rps: 1, burst: 2 }, () => now);
    expect([limiter.take("a")?.allowed, limiter.take("a")?.allowed, limiter.take("a")?.allowed]).toEqual([true, true, false]);
    expect(limiter.take("b")?.allowed).toBe(true);
    limiter.configure({ rps: 1, burst: 1 });
    expect(limiter.take("a")?.allowed).toBe(true);
    expect(limiter.take("a")?.allowed).toBe(false);
    now = 1000;
    expect(limiter.take("a")?.allowed).toBe(true);
  });

  it("draws nothing without a limit", () => {
    const limiter = new RateLimiter();
    expect(limiter.limit).toBeNull();
    expect(limiter.take("a")).toBeUndefined();
  });
});

describe("the declared body length check", () => {
  const table: Array<[string, string | undefined, "ok" | "413"]> = [
    ["no Content-Length", undefined, "ok"],
    ["a small body", "120", "ok"],
    ["exactly the cap", String(MAX_BODY_BYTES), "ok"],
    ["one byte over", String(MAX_BODY_BYTES + 1), "413"],
    ["50 MB", String(50 * 1024 * 1024), "413"],
    ["unreadable", "lots", "ok"],
  ];
  it.each(table)("%s: %s", (_name, header, expected) => {
    if (expected === "ok") expect(() => checkDeclaredLength(header)).not.toThrow();
    else {
      const error = (() => {
        try {
          checkDeclaredLength(header);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ status: 413, code: "body_too_large" });
    }
  });
});
