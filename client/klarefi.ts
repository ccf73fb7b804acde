/**
 * @module
 * The typed Klarefi client: `new Klarefi(options)` checks its settings
 * (settings.ts) before any request and exposes the `sessions` and `cases`
 * resources over one pooled transport.
 */
import { inspect } from "node:util";
import type { Dispatcher } from "undici";
import { CasesResource, SessionsResource } from "./sessions";
import { type ClientSettings, firstSet, fromEnv, resolveClientSettings, type SourcedValue } from "./settings";
import { Transport, type KlarefiLogger } from "./transport";

export { API_KEY_PATTERN, DEFAULT_BASE_URL, DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT_MS } from "./settings";

/** Settings `Klarefi.fromSettings` was given, already checked: the constructor then resolves nothing. */
const RESOLVED = Symbol("resolved client settings");

export interface KlarefiOptions {
  /** Secret API key; falls back to `KLAREFI_API_KEY`. Never logged, never shown by inspect/JSON. */
  apiKey?: string;
  /** Falls back to `KLAREFI_BASE_URL`, then `https://api.klarefi.com`. */
  baseUrl?: string;
  /**
   * Where the caller found `baseUrl`, as a person names it (e.g. `stack
   * config klarefi:baseUrl`, `--base-url`): when the API cannot be reached,
   * the error says to check that. Default: `the baseUrl option`, or
   * `KLAREFI_BASE_URL` when the URL came from the environment or the default.
   */
  baseUrlFrom?: string;
  /** Timeout per attempt for headers and for body, in ms (default 30000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3; 0 disables, 429s included). */
  maxRetries?: number;
  /**
   * 429 retries allowed before a 429 counts against `maxRetries` (default 10):
   * a 429 means "too soon", not "wrong", and the pacer slows down on it.
   */
  maxRateLimitRetries?: number;
  /**
   * Space requests to stay under the API's rate limit (default true): by its
   * `RateLimit-Policy`/`RateLimit` fields when it sends them, otherwise by
   * adapting to its 429s (docs/rate-limits.md).
   */
  pacing?: boolean;
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

  /**
   * A client from settings already checked by `resolveClientSettings` (the
   * provider resolves stack config and the environment once, with its own
   * wording, and builds its client from the result): neither the key nor the
   * environment is looked at again.
   */
  static fromSettings(settings: ClientSettings, options: Pick<KlarefiOptions, "traceId" | "dispatcher" | "logger"> = {}): Klarefi {
    return new Klarefi({ ...options, [RESOLVED]: settings } as KlarefiOptions);
  }

  constructor(options: KlarefiOptions = {}) {
    const option = (name: string, value: unknown): SourcedValue | undefined =>
      value === undefined ? undefined : { value, from: `the ${name} option` };
    const resolved = (options as { [RESOLVED]?: ClientSettings })[RESOLVED];
    const baseUrlSource =
      resolved === undefined
        ? firstSet(
            options.baseUrl === undefined ? undefined : { value: options.baseUrl, from: options.baseUrlFrom ?? "the baseUrl option" },
            fromEnv(process.env, "KLAREFI_BASE_URL"),
          )
        : undefined;
    const settings = resolved ?? resolveClientSettings(
      {
        // A given apiKey option wins even when blank (and is then refused); the environment only fills an absent one.
        apiKey: option("apiKey", options.apiKey) ?? fromEnv(process.env, "KLAREFI_API_KEY"),
        baseUrl: baseUrlSource,
        timeoutMs: option("timeoutMs", options.timeoutMs),
        maxRetries: option("maxRetries", options.maxRetries),
        maxRateLimitRetries: option("maxRateLimitRetries", options.maxRateLimitRetries),
        pacing: option("pacing", options.pacing),
        maxConcurrency: option("maxConcurrency", options.maxConcurrency),
        initialDelayMs: option("retry.initialDelayMs", options.retry?.initialDelayMs),
        maxDelayMs: option("retry.maxDelayMs", options.retry?.maxDelayMs),
      },
      "No Klarefi API key configured: set the apiKey option or the KLAREFI_API_KEY environment variable (in a Pulumi program, the provider reads the stack config klarefi:apiKey).",
    );
    const { apiKey, baseUrl, initialDelayMs, maxDelayMs } = settings;
    this.timeoutMs = settings.timeoutMs;
    this.maxRetries = settings.maxRetries;
    this.maxConcurrency = settings.maxConcurrency;
    this.#transport = new Transport({
      apiKey,
      baseUrl,
      baseUrlFrom: settings.baseUrlFrom ?? "KLAREFI_BASE_URL",
      timeoutMs: this.timeoutMs,
      maxRetries: this.maxRetries,
      maxRateLimitRetries: settings.maxRateLimitRetries,
      pacing: settings.pacing,
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

  /** Whether the client is pacing its requests now, and at how many requests a second (docs/rate-limits.md). */
  get pacing(): { enabled: boolean; ratePerSecond: number } {
    return this.#transport.pacing;
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
