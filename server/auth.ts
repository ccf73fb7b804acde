/**
 * @module
 * The one bearer-key check of the local server, used by the `/api/v1` routes
 * (API keys) and the `/_admin` routes (the admin key). Keys are compared as
 * SHA-256 digests in constant time, so neither their length nor their
 * content leaks through timing, and a refused key is never echoed.
 *
 * Hono's own `bearerAuth` middleware was not used: it answers 400 for a
 * header that is not `Bearer <token>` and restricts the token's characters,
 * where the contract answers 401 `missing_api_key` and accepts any key
 * without spaces, and its refusals bypass the contract's error body.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv, Ctx } from "./context";
import { ApiError } from "./errors";

export interface BearerAuthOptions {
  /** The accepted keys. */
  keys: readonly string[];
  /** Message of the 401 `missing_api_key` answer (no `Authorization: Bearer <key>` header). */
  missingMessage: string;
  /** Message of the 401 `invalid_api_key` answer (a key that is not one of `keys`). */
  invalidMessage: string;
  /** Called with the matching key before the route runs, e.g. to record its idempotency scope. */
  onAuthenticated?: (c: Ctx, key: string) => void;
}

/** The key of an `Authorization: Bearer <key>` header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer +(\S+) *$/i.exec(header)?.[1];
}

/** Middleware that lets a request through only with one of `keys` as its bearer token. */
export function bearerAuth(options: BearerAuthOptions): MiddlewareHandler<AppEnv> {
  const digests = options.keys.map((key) => ({ key, digest: sha256(key) }));
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (token === undefined) throw new ApiError(401, "authentication_error", "missing_api_key", options.missingMessage);
    const digest = sha256(token);
    // Compare against every key, so the time taken does not say which one matched.
    let match: string | undefined;
    for (const k of digests) if (timingSafeEqual(k.digest, digest) && match === undefined) match = k.key;
    if (match === undefined) throw new ApiError(401, "authentication_error", "invalid_api_key", options.invalidMessage);
    options.onAuthenticated?.(c, match);
    await next();
  };
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
