/**
 * @module
 * The client's settings, checked in one place: one zod schema
 * (`ClientSettings`) for the options of `new Klarefi()`, the provider's stack
 * config and the CLI's environment and flags. Each caller says where every
 * value came from, so an error names what to fix: the `apiKey` option, the
 * stack config key `klarefi:apiKey`, `KLAREFI_BASE_URL`, `--base-url`, … and
 * only the caller knows how to supply a missing key (only the provider talks
 * about `pulumi config set`).
 */
import { z } from "zod";
import { API_KEY_PATTERN } from "../contract/fields";
import { KlarefiConfigError } from "./errors";
import { DEFAULT_INITIAL_DELAY_MS, DEFAULT_MAX_DELAY_MS, DEFAULT_MAX_RATE_LIMIT_RETRIES, DEFAULT_MAX_RETRIES } from "./retry";

export { API_KEY_PATTERN } from "../contract/fields";

/** Where the client sends requests when neither `baseUrl` nor `KLAREFI_BASE_URL` says otherwise. */
export const DEFAULT_BASE_URL = "https://api.klarefi.com";
/** Per-request timeout (headers and body) by default. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Requests of one client in flight at most, by default. */
export const DEFAULT_MAX_CONCURRENCY = 16;

/** A number given as text (stack config, environment) is read as a number; anything else is left for the schema. */
function fromText(value: unknown): unknown {
  return typeof value === "string" && value.trim() !== "" ? Number(value.trim()) : value;
}

const wholeNumber = (min: number) => {
  const error = `must be a whole number from ${min}`;
  return z.preprocess(fromText, z.number({ error }).int({ error }).min(min, { error }));
};

const milliseconds = (min: "above 0" | "from 0") => {
  const error = `must be a number of milliseconds ${min}`;
  const number = z.number({ error }).refine(Number.isFinite, { error });
  return z.preprocess(fromText, min === "above 0" ? number.refine((n) => n > 0, { error }) : number.refine((n) => n >= 0, { error }));
};

/** A switch given as a boolean or as text (`true`/`false`, `on`/`off`, `1`/`0`). */
const onOff = () => {
  const error = "must be true or false";
  return z.preprocess((value) => {
    if (typeof value !== "string") return value;
    const text = value.trim().toLowerCase();
    if (["true", "on", "1", "yes"].includes(text)) return true;
    if (["false", "off", "0", "no"].includes(text)) return false;
    return value;
  }, z.boolean({ error }));
};

const BASE_URL_SHAPE = "must be an http:// or https:// URL such as https://api.klarefi.com or http://127.0.0.1:4010";

/** The API's origin (and an optional path prefix): http(s), no credentials, query or fragment, not ending in /api/v1. */
const BaseUrl = z.string({ error: BASE_URL_SHAPE }).transform((raw, ctx) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    ctx.addIssue({ code: "custom", message: BASE_URL_SHAPE, params: { rule: "base_url_invalid" } });
    return z.NEVER;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    ctx.addIssue({ code: "custom", message: BASE_URL_SHAPE, params: { rule: "base_url_invalid" } });
    return z.NEVER;
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    ctx.addIssue({
      code: "custom",
      message: "must not carry credentials, a query or a fragment: give only the origin, e.g. https://api.klarefi.com",
      params: { rule: "base_url_invalid" },
    });
    return z.NEVER;
  }
  if (/\/api\/v1\/*$/.test(url.pathname)) {
    ctx.addIssue({
      code: "custom",
      message: `ends in /api/v1: drop the suffix and give only the origin, e.g. ${url.origin} (the client adds /api/v1 itself)`,
      params: { rule: "base_url_api_suffix" },
    });
    return z.NEVER;
  }
  return url;
});

/**
 * Every setting of the client, checked. Numbers may arrive as text (stack
 * config, environment); absent ones take the client's defaults.
 */
export const ClientSettings = z.object({
  apiKey: z
    .string({ error: "is missing" })
    .refine((key) => key.trim() !== "", { error: "is missing" })
    .refine((key) => API_KEY_PATTERN.test(key), {
      error: "is malformed: it must look like sk_test_… or sk_live_… followed by at least 8 letters, digits or underscores",
    }),
  baseUrl: BaseUrl.prefault(DEFAULT_BASE_URL),
  timeoutMs: milliseconds("above 0").default(DEFAULT_TIMEOUT_MS),
  maxRetries: wholeNumber(0).default(DEFAULT_MAX_RETRIES),
  /** 429 retries allowed before a 429 counts against maxRetries (retry.ts). */
  maxRateLimitRetries: wholeNumber(0).default(DEFAULT_MAX_RATE_LIMIT_RETRIES),
  /** Pace requests under the API's rate limit (pacing.ts); on by default. */
  pacing: onOff().default(true),
  maxConcurrency: wholeNumber(1).default(DEFAULT_MAX_CONCURRENCY),
  initialDelayMs: milliseconds("from 0").default(DEFAULT_INITIAL_DELAY_MS),
  maxDelayMs: milliseconds("from 0").default(DEFAULT_MAX_DELAY_MS),
});
/** The checked settings, and where the base URL came from (named when the API cannot be reached). */
export type ClientSettings = z.output<typeof ClientSettings> & { baseUrlFrom?: string | undefined };
export type ClientSetting = keyof z.input<typeof ClientSettings>;

/** One setting's value and where it came from, as a person names it: "the apiKey option", "stack config klarefi:apiKey", "KLAREFI_BASE_URL", "--base-url". */
export interface SourcedValue {
  value: unknown;
  from: string;
}

/** The settings a caller found, each with its source; absent ones take the defaults. */
export type SettingSources = Partial<Record<ClientSetting, SourcedValue>>;

/** The first candidate that holds a value (undefined and, for text, blank count as unset). */
export function firstSet(...candidates: Array<SourcedValue | undefined>): SourcedValue | undefined {
  return candidates.find((c) => c !== undefined && c.value !== undefined && !(typeof c.value === "string" && c.value.trim() === ""));
}

/** An environment variable as a candidate source (unset or blank counts as absent). */
export function fromEnv(env: Record<string, string | undefined>, name: string): SourcedValue | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : { value, from: name };
}

/**
 * Checks the settings a caller found against `ClientSettings`. Throws a
 * `KlarefiConfigError` whose message names the setting's source (never its
 * value when it is the key or a URL) and whose `param` is the setting and
 * `code` one of `api_key_missing`, `api_key_malformed`, `base_url_invalid`,
 * `base_url_api_suffix`, `setting_invalid`. `missingApiKey` is the whole
 * sentence for a missing key, because only the caller knows how to supply one.
 */
export function resolveClientSettings(sources: SettingSources, missingApiKey: string): ClientSettings {
  const input = Object.fromEntries(Object.entries(sources).map(([name, s]) => [name, s?.value]));
  const parsed = ClientSettings.safeParse(input);
  if (parsed.success) return sources.baseUrl === undefined ? parsed.data : { ...parsed.data, baseUrlFrom: sources.baseUrl.from };
  const issue = parsed.error.issues[0];
  const setting = String(issue?.path[0] ?? "settings") as ClientSetting;
  const source = sources[setting];
  const message = issue?.message ?? "is invalid";
  if (setting === "apiKey") {
    if (source === undefined || message === "is missing") throw new KlarefiConfigError(missingApiKey, { param: setting, code: "api_key_missing" });
    throw new KlarefiConfigError(`The Klarefi API key from ${source.from} ${message}.`, { param: setting, code: "api_key_malformed" });
  }
  const from = source?.from ?? setting;
  const subject = from.charAt(0).toUpperCase() + from.slice(1);
  if (setting === "baseUrl") {
    const rule = issue?.code === "custom" && issue.params?.rule === "base_url_api_suffix" ? "base_url_api_suffix" : "base_url_invalid";
    throw new KlarefiConfigError(`${subject} ${message}.`, { param: setting, code: rule });
  }
  const given = source?.value;
  const shown = typeof given === "string" ? JSON.stringify(given) : String(given);
  throw new KlarefiConfigError(`${subject} ${message}, got ${shown}.`, { param: setting, code: "setting_invalid" });
}
