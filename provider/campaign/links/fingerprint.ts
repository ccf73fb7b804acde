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
 * changed, and so matches none, costs little: at most 81 hashes):
 *
 *   1. every combination of upper and lower case of the tag's letters, when
 *      it has at most `MAX_ENUMERATED_LETTERS` letters (2^6 = 64 spellings;
 *      `nl-NL` has 4 letters, `sr-Latn` 6). This covers any spelling of every
 *      such tag, `nL-nL` included;
 *   2. for longer tags, each subtag in lower, upper or title case
 *      (3^subtags spellings, at most `MAX_SUBTAG_SPELLINGS`: all of them up to
 *      four subtags; for more, the whole tag in each case and the first 78
 *      combinations), which covers the spellings people write (`ZH-HANT-TW`,
 *      `zh-hant-tw`, `Zh-Hant-Tw`) but not mixed case inside one subtag
 *      (`zh-hAnt-tw`): such a row counts as changed, and is refused by the
 *      reissue guard like any other change.
 *
 * The hashes share everything but the locale, so the canonical JSON is cut
 * around the locale once per row and each spelling costs one SHA-256 of a
 * short string (measured on a shared 2-core machine: 10,000 rows that really
 * changed cost 0.2 s with `nl`, 0.6 s with `zh-Hant-TW`, 2.3 s with
 * `en-US-x-twain`; rows whose fingerprint is the canonical one cost nothing).
 *
 * Rows without a locale, and rows whose stored fingerprint is the canonical
 * one, cost no extra hash. Pure; table-tested in test/unit/campaign-fingerprint.test.ts.
 */
import type { SessionFields } from "../../session-ops";
import { hash } from "node:crypto";
import { fingerprint, fingerprintValues, REISSUING_FIELDS } from "./inputs";

/** Tags with at most this many letters are tried in every upper/lower combination. */
export const MAX_ENUMERATED_LETTERS = 6;
/** The most per-subtag spellings tried for a longer tag (3^4: four subtags). */
export const MAX_SUBTAG_SPELLINGS = 81;

/**
 * Whether `stored` is the fingerprint of `fields` (with `rotation`), or of
 * the same fields with the locale spelled in another letter case. `desired`
 * is `fingerprint(fields, rotation)`, already computed by the caller.
 */
export function fingerprintMatches(stored: string, desired: string, fields: SessionFields, rotation: string | undefined): boolean {
  if (stored === desired) return true;
  const locale = fields.locale;
  if (locale === undefined || locale === "") return false;
  const hashWith = localeHasher(fields, rotation, desired);
  for (const spelling of localeSpellings(locale)) {
    if (spelling !== locale && hashWith(spelling) === stored) return true;
  }
  return false;
}

/**
 * `fingerprint(fields with locale = spelling, rotation)` as a function of the
 * spelling, one hash per spelling: the canonical JSON (links/inputs.ts
 * `fingerprintValues`: the rotation, then `REISSUING_FIELDS` in that order) is cut
 * around the locale once. `desired` is `fingerprint(fields, rotation)`: the
 * cut is used only when it gives that same hash for the row's own locale, so
 * should the canonical form ever change there, this falls back to
 * `fingerprint` itself instead of matching nothing.
 */
export function localeHasher(fields: SessionFields, rotation: string | undefined, desired: string): (spelling: string) => string {
  const slow = (spelling: string) => fingerprint({ ...fields, locale: spelling }, rotation);
  const values = fingerprintValues(fields, rotation);
  const at = 1 + REISSUING_FIELDS.indexOf("locale");
  const json = (items: readonly string[]) => JSON.stringify(items).slice(1, -1);
  const before = `[${json(values.slice(0, at))}${at > 0 ? "," : ""}`;
  const after = `${at < values.length - 1 ? "," : ""}${json(values.slice(at + 1))}]`;
  const fast = (spelling: string) => sha12(`${before}${JSON.stringify(spelling)}${after}`);
  return fields.locale !== undefined && fast(fields.locale) === desired ? fast : slow;
}

function sha12(text: string): string {
  return hash("sha256", text, "hex").slice(0, 12);
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
  // The whole tag in each case first, so a tag of many subtags has them whatever the bound leaves out.
  for (const style of styles) yield subtags.map(style).join("-");
  const total = Math.min(styles.length ** subtags.length, MAX_SUBTAG_SPELLINGS - styles.length);
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
