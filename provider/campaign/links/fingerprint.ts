/**
 * @module
 * Whether a row's stored fingerprint still stands for the row, up to the
 * letter case of its locale.
 *
 * Until locales were sent in canonical case (`NL` → `nl`, `nl-nl` → `nl-NL`,
 * contract/fields.ts `canonicalLocale`), the bulk campaign hashed each row's
 * locale as written. A row stored with `NL` has the fingerprint of `"NL"`,
 * and today's canonical row (`"nl"`) hashes differently; taken at its word,
 * the plan would reissue every such link after an upgrade, though nothing
 * but the letter case differs. A case-only difference must never reissue.
 *
 * The fingerprint is a one-way hash over `REISSUING_FIELDS` in a fixed order
 * (links/inputs.ts), so the locale that was hashed cannot be read back.
 * Instead, when the stored fingerprint differs from the canonical one, the
 * locale's other spellings are hashed with the same fields until one gives
 * the stored fingerprint. Which spellings (bounded, so that a row that really
 * changed costs little):
 *
 *   1. every combination of upper and lower case of the tag's letters, when
 *      it has at most `MAX_ENUMERATED_LETTERS` letters (2^10 = 1024 hashes;
 *      `zh-Hant-TW` has 8 letters, `nl-NL` 4). This covers any spelling of
 *      every tag of that size, `nL-nL` included;
 *   2. for longer tags, each subtag in lower, upper or title case
 *      (3^subtags spellings, at most `MAX_SUBTAG_SPELLINGS`), which covers
 *      every spelling people write (`EN-US-X-TWAIN`, `en-us-x-twain`,
 *      `en-Us-x-Twain`) but not arbitrary mixed case inside one subtag.
 *
 * Rows without a locale, and rows whose stored fingerprint is the canonical
 * one, cost no extra hash. Pure; table-tested in test/unit/campaign-fingerprint.test.ts.
 */
import type { SessionFields } from "../../session-ops";
import { fingerprint } from "./inputs";

/** Tags with at most this many letters are tried in every upper/lower combination. */
export const MAX_ENUMERATED_LETTERS = 10;
/** The most per-subtag spellings tried for a longer tag. */
export const MAX_SUBTAG_SPELLINGS = 6561;

/**
 * Whether `stored` is the fingerprint of `fields` (with `rotation`), or of
 * the same fields with the locale spelled in another letter case. `desired`
 * is `fingerprint(fields, rotation)`, already computed by the caller.
 */
export function fingerprintMatches(stored: string, desired: string, fields: SessionFields, rotation: string | undefined): boolean {
  if (stored === desired) return true;
  const locale = fields.locale;
  if (locale === undefined || locale === "") return false;
  for (const spelling of localeSpellings(locale)) {
    if (spelling !== locale && fingerprint({ ...fields, locale: spelling }, rotation) === stored) return true;
  }
  return false;
}

/**
 * The spellings of `tag` that differ from it only in letter case, as tried
 * by `fingerprintMatches` (see the module comment for the bounds). Lazily
 * generated: the caller stops at the first match.
 */
export function* localeSpellings(tag: string): Generator<string> {
  const letters: number[] = [];
  for (let i = 0; i < tag.length; i++) if (/[a-z]/i.test(tag.charAt(i))) letters.push(i);
  if (letters.length <= MAX_ENUMERATED_LETTERS) {
    const chars = tag.toLowerCase().split("");
    for (let mask = 0; mask < 1 << letters.length; mask++) {
      const out = [...chars];
      letters.forEach((at, bit) => {
        if (mask & (1 << bit)) out[at] = (out[at] as string).toUpperCase();
      });
      yield out.join("");
    }
    return;
  }
  const subtags = tag.split("-");
  const styles = [
    (s: string) => s.toLowerCase(),
    (s: string) => s.toUpperCase(),
    (s: string) => `${s.charAt(0).toUpperCase()}${s.slice(1).toLowerCase()}`,
  ];
  const total = Math.min(styles.length ** subtags.length, MAX_SUBTAG_SPELLINGS);
  for (let n = 0; n < total; n++) {
    let rest = n;
    yield subtags
      .map((subtag) => {
        const style = styles[rest % styles.length] as (s: string) => string;
        rest = Math.floor(rest / styles.length);
        return style(subtag);
      })
      .join("-");
  }
}
