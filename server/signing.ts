/**
 * @module
 * Signed applicant links: `${base}/i/${session_id}?exp=<unix seconds>&sig=<hex>`
 * where `sig = HMAC-SHA256(secret, session_id + "." + exp)`. `exp` is the
 * session's expiry as issued; it is signed so nobody can alter the link, but
 * whether the link still opens is decided by the session's current expiry
 * (which `PATCH /api/v1/sessions/{id}` may have moved), so a mailed link
 * never has to change.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** A fresh 256-bit signing secret, hex encoded. Generated once per database. */
export function generateSigningSecret(): string {
  return randomBytes(32).toString("hex");
}

/** The hex signature of one link. */
export function signLink(secret: string, sessionId: string, expSeconds: number): string {
  return createHmac("sha256", secret).update(`${sessionId}.${expSeconds}`).digest("hex");
}

/** The full signed URL for a session; `baseUrl` is the server's public base, without a trailing slash. */
export function buildSignedUrl(baseUrl: string, secret: string, sessionId: string, expSeconds: number): string {
  const sig = signLink(secret, sessionId, expSeconds);
  return `${baseUrl}/i/${encodeURIComponent(sessionId)}?exp=${expSeconds}&sig=${sig}`;
}

export type LinkCheck = { ok: true; expSeconds: number } | { ok: false };

/**
 * Checks `exp` and `sig` as they came in the query string. Refuses anything
 * malformed; compares signatures in constant time.
 */
export function verifyLink(
  secret: string,
  sessionId: string,
  exp: string | undefined,
  sig: string | undefined,
): LinkCheck {
  if (exp === undefined || sig === undefined) return { ok: false };
  if (!/^(0|[1-9]\d{0,11})$/.test(exp) || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false };
  const expSeconds = Number(exp);
  const expected = Buffer.from(signLink(secret, sessionId, expSeconds), "hex");
  const given = Buffer.from(sig, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false };
  return { ok: true, expSeconds };
}
