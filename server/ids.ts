/**
 * @module
 * Random identifiers of the local server: session ids and request ids.
 */
import { randomBytes } from "node:crypto";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** `count` random characters from the lower-case RFC 4648 base32 alphabet. */
export function randomBase32(count: number): string {
  const bytes = randomBytes(count);
  let out = "";
  for (let i = 0; i < count; i++) out += BASE32[(bytes[i] ?? 0) & 31];
  return out;
}

/** A new intake session id: `ses_` and 24 random base32 characters (120 bits). */
export function newSessionId(): string {
  return `ses_${randomBase32(24)}`;
}

/** A new request id for the `Request-Id` header: `req_` and 24 base32 characters. */
export function newRequestId(): string {
  return `req_${randomBase32(24)}`;
}
