/**
 * @module
 * The plain-value side of the provider protocol, free of gRPC: secret and
 * unknown markers as the engine encodes them in a `google.protobuf.Struct`,
 * the key scope a resource's URN stands for, and the provider config as the
 * `{ get(key) }` the shared implementation reads.
 */
import { keyScope } from "../idempotency";

/** The key the engine uses to mark a special value in a Struct. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
/** The signature of a secret value: `{ [SIG_KEY]: SECRET_SIG, value }`. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** The signature of an asset: `{ [SIG_KEY]: ASSET_SIG, hash, path | text | uri }`. */
const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
/** The signature of an archive, which no property of this provider takes. */
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";

/**
 * A Pulumi asset as a provider receives it: a file asset's `path` (as the
 * program wrote it, relative to the project folder), a string asset's
 * `text` or a remote asset's `uri`, and the engine's `hash` of the contents.
 */
export interface WireAsset {
  path?: string;
  text?: string;
  uri?: string;
  hash?: string;
}

/** The asset a wire value stands for; `"archive"` for an archive; undefined for anything else. */
export function wireAsset(value: unknown): WireAsset | "archive" | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record[SIG_KEY] === ARCHIVE_SIG) return "archive";
  if (record[SIG_KEY] !== ASSET_SIG) return undefined;
  const text = (name: string) => (typeof record[name] === "string" ? { [name]: record[name] as string } : {});
  return { ...text("path"), ...text("text"), ...text("uri"), ...text("hash") };
}

/** What the engine sends for a value not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A secret value in the engine's wire encoding: the engine stores it encrypted and masks it in output. */
export function secret(value: unknown): Record<string, unknown> {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/** Whether a wire value is a secret wrapper. */
export function isSecret(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Removes secret wrappers, deeply (the provider's logic works on plain values). */
export function unwrapSecrets(value: unknown): unknown {
  if (isSecret(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** Whether any value of a property map is (or holds) an unknown: then nothing can be checked yet. */
export function hasUnknowns(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(hasUnknowns);
  if (typeof value === "object" && value !== null) return Object.values(value).some(hasUnknowns);
  return false;
}

/** The same object with the named top-level properties wrapped as secrets (those present and not already wrapped). */
export function withSecrets<T extends Record<string, unknown>>(props: T, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...props };
  for (const name of names) {
    const value = out[name];
    if (value !== undefined && value !== null && !isSecret(value)) out[name] = secret(value);
  }
  return out;
}

/**
 * The key scope of a resource, `${project}/${stack}/${name}`: what the
 * TypeScript resource constructors contribute, so a plugin resource derives
 * the same idempotency keys as a dynamic one of the same project, stack and
 * name. A URN is `urn:pulumi:<stack>::<project>::<type>::<name>`.
 */
export function keyScopeFromUrn(urn: string): string {
  const parts = urn.split("::");
  const stack = (parts[0] ?? "").replace(/^urn:pulumi:/, "");
  const project = parts[1];
  const name = parts.slice(3).join("::");
  if (parts.length < 4 || stack === "" || !project || name === "") throw new Error(`Not a resource URN: "${urn}".`);
  return keyScope(project, stack, name);
}

/**
 * Provider config as the shared implementation reads it (`get("klarefi:apiKey")`),
 * from the provider's inputs (`{ apiKey, baseUrl, … }`, secrets possibly
 * wrapped, numbers possibly numbers). An empty or null value counts as unset.
 */
export function providerConfig(inputs: Record<string, unknown>): { get(key: string): string | undefined } {
  return {
    get(key: string) {
      const name = key.startsWith("klarefi:") ? key.slice("klarefi:".length) : key;
      const value = unwrapSecrets(inputs[name]);
      if (value === undefined || value === null || value === "") return undefined;
      return typeof value === "string" ? value : JSON.stringify(value);
    },
  };
}

/** A copy safe for `Struct.fromJavaScript`, which refuses `undefined` anywhere. */
export function plain(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}
