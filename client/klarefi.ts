import { inspect } from "node:util";
import type { Dispatcher } from "undici";
import { KlarefiConfigError } from "./errors";
import { DEFAULT_INITIAL_DELAY_MS, DEFAULT_MAX_DELAY_MS, DEFAULT_MAX_RETRIES } from "./retry";
import { CasesResource, SessionsResource } from "./sessions";
import { Transport, type KlarefiLogger } from "./transport";

/** Where the client sends requests when neither `baseUrl` nor `KLAREFI_BASE_URL` says otherwise. */
export const DEFAULT_BASE_URL = "https://api.klarefi.com";
/** Per-request timeout (headers and body) by default. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Requests of one client in flight at most, by default. */
export const DEFAULT_MAX_CONCURRENCY = 16;
/** What a Klarefi API key looks like: `sk_test_…` or `sk_live_…`. */
export const API_KEY_PATTERN = /^sk_(test|live)_[A-Za-z0-9_]{8,}$/;

export interface KlarefiOptions {
  /** Secret API key; falls back to `KLAREFI_API_KEY`. Never logged, never shown by inspect/JSON. */
  apiKey?: string;
  /** Falls back to `KLAREFI_BASE_URL`, then `https://api.klarefi.com`. */
  baseUrl?: string;
  /** Timeout per attempt for headers and for body, in ms (default 30000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3; 0 disables). */
  maxRetries?: number;
  /** Requests of this client in flight at most (default 16); more wait their turn. */
  maxConcurrency?: number;
  /** Backoff ceilings; defaults 500 ms and 8000 ms. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Default `Klarefi-Trace-Id` for every request. */
  traceId?: string;
  /** Caller-owned undici dispatcher (e.g. a MockAgent); `close()` leaves it open. */
  dispatcher?: Dispatcher;
  /** Debug lines per attempt and retry; they never hold the key or a signed URL. */
  logger?: KlarefiLogger;
}

/**
 * The typed Klarefi client.
 *
 * ```ts
 * const klarefi = new Klarefi({ apiKey: process.env.KLAREFI_API_KEY! });
 * const session = await klarefi.sessions.create({ case_type_id: "motor_claim", ... });
 * ```
 *
 * The key is checked in the constructor (a `KlarefiConfigError` says which
 * setting to fix) and kept in a private field: `util.inspect`, `toJSON`,
 * `toString` and `JSON.stringify` never show it.
 */
export class Klarefi {
  readonly sessions: SessionsResource;
  readonly cases: CasesResource;
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly maxConcurrency: number;
  readonly #transport: Transport;

  constructor(options: KlarefiOptions = {}) {
    const apiKey = resolveApiKey(options.apiKey);
    const baseUrl = resolveBaseUrl(options.baseUrl);
    this.timeoutMs = positive("timeoutMs", options.timeoutMs ?? DEFAULT_TIMEOUT_MS, false);
    this.maxRetries = positive("maxRetries", options.maxRetries ?? DEFAULT_MAX_RETRIES, true);
    this.maxConcurrency = positive("maxConcurrency", options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY, false);
    const initialDelayMs = positive("retry.initialDelayMs", options.retry?.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS, true);
    const maxDelayMs = positive("retry.maxDelayMs", options.retry?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS, true);
    this.#transport = new Transport({
      apiKey,
      baseUrl,
      timeoutMs: this.timeoutMs,
      maxRetries: this.maxRetries,
      maxConcurrency: this.maxConcurrency,
      initialDelayMs,
      maxDelayMs,
      ...(options.traceId === undefined ? {} : { traceId: options.traceId }),
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    this.baseUrl = this.#transport.baseUrl;
    this.sessions = new SessionsResource(this.#transport);
    this.cases = new CasesResource(this.#transport);
  }

  /** Requests of this client in flight right now; never above `maxConcurrency`. */
  get inFlight(): number {
    return this.#transport.inFlight;
  }

  /** Closes the client's connection pool; later calls fail with `KlarefiConnectionError`. */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  /** What `JSON.stringify` shows: the settings, never the key. */
  toJSON(): Record<string, unknown> {
    return {
      baseUrl: this.baseUrl,
      timeoutMs: this.timeoutMs,
      maxRetries: this.maxRetries,
      maxConcurrency: this.maxConcurrency,
    };
  }

  toString(): string {
    return `Klarefi client for ${this.baseUrl}`;
  }

  [inspect.custom](): string {
    return `Klarefi ${inspect(this.toJSON())}`;
  }
}

const KEY_SETTINGS = "the apiKey option, the KLAREFI_API_KEY environment variable, or the Pulumi config klarefi:apiKey";

function resolveApiKey(option: string | undefined): string {
  const fromOption = option !== undefined;
  const key = fromOption ? option : process.env.KLAREFI_API_KEY;
  if (key === undefined || key === null || (typeof key === "string" && key.trim() === "")) {
    throw new KlarefiConfigError(
      `No Klarefi API key configured: set ${KEY_SETTINGS} (\`pulumi config set --secret klarefi:apiKey sk_test_...\`).`,
    );
  }
  if (typeof key !== "string" || !API_KEY_PATTERN.test(key)) {
    const where = fromOption ? "the apiKey option" : "KLAREFI_API_KEY";
    throw new KlarefiConfigError(
      `The Klarefi API key from ${where} is malformed: it must look like sk_test_… or sk_live_… followed by at least 8 letters, digits or underscores; fix ${KEY_SETTINGS}.`,
    );
  }
  return key;
}

function resolveBaseUrl(option: string | undefined): URL {
  const fromOption = option !== undefined && option !== "";
  const envValue = process.env.KLAREFI_BASE_URL;
  const raw = fromOption ? option : envValue !== undefined && envValue !== "" ? envValue : DEFAULT_BASE_URL;
  const where = fromOption ? "the baseUrl option" : "KLAREFI_BASE_URL";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KlarefiConfigError(`The Klarefi base URL from ${where} is not a URL: set it to e.g. https://api.klarefi.com or http://127.0.0.1:4010.`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KlarefiConfigError(`The Klarefi base URL from ${where} must start with https:// or http://, not ${url.protocol}//.`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw new KlarefiConfigError(`The Klarefi base URL from ${where} must not carry credentials, a query or a fragment: give only the origin, e.g. https://api.klarefi.com.`);
  }
  return url;
}

function positive(name: string, value: number, zeroAllowed: boolean): number {
  const ok = Number.isFinite(value) && (zeroAllowed ? value >= 0 : value > 0) && (name !== "maxRetries" && name !== "maxConcurrency" || Number.isInteger(value));
  if (!ok) {
    throw new KlarefiConfigError(`The Klarefi client option ${name} must be ${zeroAllowed ? "zero or more" : "more than zero"}${name === "maxRetries" || name === "maxConcurrency" ? " (an integer)" : ""}, got ${String(value)}.`);
  }
  return value;
}
