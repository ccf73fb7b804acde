/**
 * @module
 * Resource inputs as plain data. `@pulumi/policy` hands a policy its inputs
 * behind a proxy that throws `UnknownValueError` on reading a value that is
 * not known yet (during `preview`, an output of another resource). The
 * engine then skips the whole policy for that resource. Copying the inputs
 * here, field by field, turns each unknown value into {@link UNKNOWN}
 * instead, so that one unknown return URL does not hide a 200-day expiry on
 * the same resource: every rule judges what is known and skips the rest.
 */

/** A value not known yet (during `preview`); judged again by `up`, when it is. */
export const UNKNOWN: unique symbol = Symbol("unknown until the update");
export type Unknown = typeof UNKNOWN;

/** The engine's marker for an unknown value, for inputs read without `@pulumi/policy`'s proxy. */
const UNKNOWN_MARKER = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Plain data with unknown values marked. */
export type Plain = null | boolean | number | string | Unknown | Plain[] | { [key: string]: Plain };

/**
 * Whether `error` is `@pulumi/policy`'s `UnknownValueError` (an `Error` that
 * carries the sentinel of the unknown value it met; the class is not part of
 * the library's public API, so it is recognised by that field).
 */
function isUnknownError(error: unknown): boolean {
  return error instanceof Error && "unknownTypeSentinel" in error;
}

/** Reads `source[key]`, answering {@link UNKNOWN} where the proxy says the value is not known yet. */
function read(source: object, key: string | number): unknown {
  try {
    return (source as Record<string | number, unknown>)[key];
  } catch (error) {
    if (isUnknownError(error)) return UNKNOWN;
    throw error;
  }
}

/**
 * A deep copy of `value` as plain data: unknown values (the proxy's or the
 * engine's marker) become {@link UNKNOWN}, anything that is not JSON data
 * (assets, functions) becomes null.
 */
export function plainOf(value: unknown, depth = 0): Plain {
  if (depth > 64) return null;
  if (value === UNKNOWN || value === UNKNOWN_MARKER) return UNKNOWN;
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean" || typeof value === "number" || typeof value === "string") return value;
  if (Array.isArray(value)) {
    const out: Plain[] = [];
    for (let i = 0; i < value.length; i++) out.push(plainOf(read(value, i), depth + 1));
    return out;
  }
  if (typeof value === "object") {
    const out: { [key: string]: Plain } = {};
    for (const key of Object.keys(value)) {
      const field = read(value, key);
      if (field !== undefined) out[key] = plainOf(field, depth + 1);
    }
    return out;
  }
  return null;
}

/** Whether `value` is a plain object (not an array, not unknown). */
export function isObject(value: Plain | undefined): value is { [key: string]: Plain } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value` when it is a string, {@link UNKNOWN} when unknown, undefined otherwise (absent or another type). */
export function textOf(value: Plain | undefined): string | Unknown | undefined {
  if (value === UNKNOWN) return UNKNOWN;
  return typeof value === "string" ? value : undefined;
}
