/**
 * @module
 * The input rules of the Klarefi contract, written once.
 *
 * Each rule is a zod schema factory that takes the name people see for the
 * field where it is checked: `fields.caseTypeId("case_type_id")` on the wire
 * (server and client), `fields.caseTypeId("caseTypeId")` for a Pulumi input,
 * `fields.locale("locale")` for a CSV column. The pattern, the limit and the
 * words of every message live here, so a rule changed once changes for the
 * server, the client, the provider's `check` and the campaign rows alike.
 * Messages start with the field's name and say what to fix; the sentence for
 * a missing field ("X is required") is built by `messages.ts`.
 */
import { z } from "zod";

/** Most identifiers and references accept up to this many characters. */
export const MAX_ID_LENGTH = 255;
/** Longest `case_type_id`. */
export const MAX_CASE_TYPE_ID_LENGTH = 64;
/** Longest `return_url`. */
export const MAX_RETURN_URL_LENGTH = 2048;
/** Longest `trace_id`. */
export const MAX_TRACE_ID_LENGTH = 128;
/** Longest label of this project's own (a `rotation`, a session id to adopt). */
export const MAX_LABEL_LENGTH = 128;
/** How far ahead an `expires_at` may lie. */
export const MAX_EXPIRY_DAYS = 365;

/** Case type identifiers as the dashboard shows them: `motor_claim`. */
export const CASE_TYPE_ID_PATTERN = /^[a-z][a-z0-9_]*$/;
/** BCP 47 language tag: `nl`, `nl-BE`, `pt-BR`, `zh-Hant-TW`. */
export const LOCALE_PATTERN = /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/;
/** Printable ASCII without spaces, 1 to `MAX_TRACE_ID_LENGTH` characters. */
export const TRACE_ID_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${MAX_TRACE_ID_LENGTH}}$`);
/** A session id as the API issues them (`ses_…`), or any id made of the same characters. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/**
 * What a Klarefi API key looks like: `sk_test_…` or `sk_live_…` followed by at
 * least 8 letters, digits or underscores.
 */
export const API_KEY_PATTERN = /^sk_(test|live)_[A-Za-z0-9_]{8,}$/;
/**
 * The local server's documented test key (docs/klarefi-api.md). It is public
 * and only opens local servers, so it may be printed in hints.
 */
export const LOCAL_TEST_API_KEY = "sk_test_klarefi_local_0000000000000000";

/** Whether a return URL is allowed: https, or plain http to a loopback host so local development works. */
export function isAllowedReturnUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
}

const DAY_MS = 86_400_000;

/**
 * Why an expiry is not acceptable for a new link at `nowMs`, or undefined when
 * it is: it must lie in the future and at most `MAX_EXPIRY_DAYS` ahead. Kept
 * apart from the format rule because it depends on a clock: the server uses
 * its own, the client and the provider the local one. `atMs` defaults to the
 * parsed `value` (the server passes the instant it would store).
 */
export function expiryProblem(name: string, value: string, nowMs: number, atMs: number = Date.parse(value)): string | undefined {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  if (Number.isNaN(atMs)) return `${name} must be an RFC 3339 timestamp such as 2027-03-31T00:00:00Z`;
  if (atMs <= nowMs) return `${name} ${shown} is in the past; choose a future time at most ${MAX_EXPIRY_DAYS} days ahead`;
  if (atMs > nowMs + MAX_EXPIRY_DAYS * DAY_MS) {
    return `${name} ${shown} is more than ${MAX_EXPIRY_DAYS} days ahead; choose a time at most ${MAX_EXPIRY_DAYS} days ahead`;
  }
  return undefined;
}

/**
 * A BCP 47 language tag in its canonical letter case (RFC 5646 section
 * 2.1.1): `NL` → `nl`, `nl-nl` → `nl-NL`, `zh-hant-tw` → `zh-Hant-TW`,
 * `EN-us-X-Twain` → `en-US-x-twain`. Two-letter subtags after the first are
 * upper case and four-letter ones title case, unless they follow a singleton
 * (`x`, `u`, …); everything else is lower case. Only the case changes: no
 * alias is replaced (`iw` stays `iw`, where `Intl.getCanonicalLocales` would
 * answer `he`), so two tags that differ only in case compare equal after it
 * and nothing else does. The provider sends and compares locales in this form,
 * so a case-only edit of a locale never reissues a link.
 */
export function canonicalLocale(tag: string): string {
  let afterSingleton = false;
  return tag
    .split("-")
    .map((subtag, index) => {
      const lower = subtag.toLowerCase();
      if (index === 0 || afterSingleton) return lower;
      if (subtag.length === 1) {
        afterSingleton = true;
        return lower;
      }
      if (/^[a-z]{2}$/i.test(subtag)) return subtag.toUpperCase();
      if (/^[a-z]{4}$/i.test(subtag)) return `${subtag.charAt(0).toUpperCase()}${lower.slice(1)}`;
      return lower;
    })
    .join("-");
}

/** A string: the one type rule every field shares. */
function string(name: string) {
  return z.string({ error: `${name} must be a string` });
}

/** A non-empty reference, trimmed, up to `max` characters. */
function text(name: string, max: number = MAX_ID_LENGTH) {
  return string(name)
    .trim()
    .min(1, { error: `${name} must not be empty` })
    .max(max, { error: `${name} must be at most ${max} characters` });
}

/** A BCP 47 language tag, letter case as written. */
function locale(name: string) {
  return string(name).regex(LOCALE_PATTERN, { error: `${name} must be a BCP 47 language tag such as "nl" or "nl-BE"` });
}

/**
 * The field rules, by field. Each takes the name people see where it is
 * checked and returns a fresh zod schema (chain `.optional()` as needed).
 */
export const fields = {
  /** A non-empty reference such as `external_case_id` (trimmed; at most `max`, default 255). */
  text,
  /** `case_type_id`: lower-case letters, digits and underscores, starting with a letter; at most 64. */
  caseTypeId: (name: string) =>
    text(name, MAX_CASE_TYPE_ID_LENGTH).regex(CASE_TYPE_ID_PATTERN, {
      error: `${name} must be lower-case letters, digits and underscores, starting with a letter`,
    }),
  /** `external_case_id`, `external_applicant_id`: your own references, at most 255. */
  externalId: (name: string) => text(name, MAX_ID_LENGTH),
  /** `idempotency_key`: at most 255 on the wire; callers that add a suffix pass a smaller `max`. */
  idempotencyKey: (name: string, max: number = MAX_ID_LENGTH) => text(name, max),
  /** `return_url`: absolute https (http only for localhost), at most 2048. */
  returnUrl: (name: string) =>
    string(name)
      .max(MAX_RETURN_URL_LENGTH, { error: `${name} must be at most ${MAX_RETURN_URL_LENGTH} characters` })
      .refine(isAllowedReturnUrl, {
        error: `${name} must be an absolute https:// URL (http:// is allowed only for localhost)`,
      }),
  /**
   * `locale`: a BCP 47 language tag (`nl`, `nl-BE`); `nl_NL` is refused. As
   * the wire takes it: the letter case stays as written (the server stores
   * what it is sent). Inputs of this package use `canonicalLocale` below.
   */
  locale,
  /**
   * A locale the provider sends and compares: the `locale` rule, then the
   * tag in canonical case (`NL` → `nl`, `nl-nl` → `nl-NL`; see
   * `canonicalLocale`), so that `NL` over a default of `nl` is no change.
   */
  canonicalLocale: (name: string) => locale(name).transform(canonicalLocale),
  /** `trace_id`: 1 to 128 printable ASCII characters without spaces. */
  traceId: (name: string) =>
    string(name).regex(TRACE_ID_PATTERN, {
      error: `${name} must be 1 to ${MAX_TRACE_ID_LENGTH} printable ASCII characters without spaces`,
    }),
  /** An RFC 3339 timestamp with a zone: `2027-03-31T00:00:00Z`. Range checks: `expiryProblem`. */
  timestamp: (name: string) =>
    z.iso.datetime({ offset: true, error: `${name} must be an RFC 3339 timestamp such as 2027-03-31T00:00:00Z` }),
  /** A session id such as `ses_…` (letters, digits, `_` and `-`), at most 128. */
  sessionId: (name: string) =>
    text(name, MAX_LABEL_LENGTH).regex(SESSION_ID_PATTERN, { error: `${name} must be a session id such as ses_…` }),
  /** A free label of this project's own (e.g. `rotation`), at most 128. */
  label: (name: string) => text(name, MAX_LABEL_LENGTH),
} as const;
