/**
 * @module
 * HTTP transport of the Klarefi client: one pooled keep-alive undici `Agent`
 * per client, JSON in and out, every body parsed with zod at the boundary,
 * retries by the pure policy in retry.ts, a semaphore that caps the
 * requests of one client in flight (the Pulumi provider runs many resource
 * operations at once and relies on this cap), and a pacer (pacer.ts,
 * pacing.ts) that spaces the attempts to stay under the API's rate limit.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Agent, type Dispatcher } from "undici";
import type { z } from "zod";
import {
  errorFromResponse,
  headerValue,
  KlarefiConnectionError,
  KlarefiError,
  KlarefiResponseValidationError,
  KlarefiTimeoutError,
  requestSuffix,
  type ResponseHeaders,
} from "./errors";
import { Pacer } from "./pacer";
import { parseRateLimitFields } from "./pacing";
import { decideRetry, networkFailureOf, type RetryOutcome } from "./retry";
import { valueAt } from "../contract/messages";
import { Headers } from "../contract/schemas";

const PACKAGE_NAME = "@klarefi/pulumi";
let cachedVersion: string | undefined;

/**
 * The package's version, sent in `User-Agent` (`klarefi-node/<version>`) and
 * printed by `klarefi --version`. Read from the package's own package.json on
 * first use: the nearest one named `@klarefi/pulumi` above this file, which is
 * one folder up from the sources and two from `dist/client/`.
 */
export function clientVersion(): string {
  cachedVersion ??= findPackageVersion(__dirname) ?? "0.0.0-unknown";
  return cachedVersion;
}

function findPackageVersion(start: string): string | undefined {
  for (let dir = start, depth = 0; depth < 8; depth++) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === "string") return manifest.version;
    } catch {
      // No (readable) package.json here: keep walking up.
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

/** Optional debug sink. Lines never contain the API key or a signed URL. */
export interface KlarefiLogger {
  debug(message: string): void;
}

export interface TransportOptions {
  baseUrl: URL;
  /**
   * Where `baseUrl` came from, as a person names it (`stack config
   * klarefi:baseUrl`, `KLAREFI_BASE_URL`, `--base-url`, `the baseUrl
   * option`): an unreachable API is reported as "check <that>".
   */
  baseUrlFrom?: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
  /** 429 retries allowed before a 429 counts against maxRetries (retry.ts). */
  maxRateLimitRetries: number;
  /** Space requests by the API's rate-limit fields or, without them, by its 429s (pacing.ts). */
  pacing: boolean;
  maxConcurrency: number;
  initialDelayMs: number;
  maxDelayMs: number;
  traceId?: string;
  /** A caller-owned dispatcher; when absent the transport creates (and owns) an Agent. */
  dispatcher?: Dispatcher;
  logger?: KlarefiLogger;
  /** Jitter source; `Math.random` by default. */
  random?: () => number;
  /** Monotonic clock of the pacer, in seconds; `performance.now() / 1000` by default. */
  now?: () => number;
}

/** Per-call options of every client method. */
export interface RequestOptions {
  /** Sent as `Klarefi-Trace-Id`; overrides the client's `traceId`. */
  traceId?: string;
  /** Aborts the call, including any wait between retries. */
  signal?: AbortSignal;
}

export interface TransportRequest<T> {
  operation: string;
  method: "GET" | "POST" | "PATCH";
  /** Path below the base URL, starting with `/api/v1/`. */
  path: string;
  /** JSON body; serialized once and sent unchanged on every attempt. */
  body?: unknown;
  schema: z.ZodType<T>;
  traceId?: string;
  signal?: AbortSignal;
}

/** A parsed 2xx answer plus what the caller may want to log. */
export interface TransportResponse<T> {
  data: T;
  status: number;
  requestId?: string;
  /** True when the API answered from its idempotency store (`Idempotent-Replayed: true`). */
  replayed: boolean;
  /** Attempts made, 1 when the first one succeeded. */
  attempts: number;
}

/** Counting semaphore: at most `limit` holders at once, FIFO for waiters. */
export class Semaphore {
  readonly limit: number;
  #held = 0;
  #waiters: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  /** Holders right now. */
  get held(): number {
    return this.#held;
  }

  /** Waits for a slot; the returned function gives it back (calling it twice is harmless). */
  async acquire(): Promise<() => void> {
    if (this.#held < this.limit) {
      this.#held++;
    } else {
      // The releasing holder hands its slot over directly, so #held stays put.
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#held--;
    };
  }
}

export class Transport {
  readonly #apiKey: string;
  readonly #options: Omit<TransportOptions, "apiKey" | "dispatcher">;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #semaphore: Semaphore;
  readonly #pacer: Pacer;
  readonly #origin: string;
  readonly #pathPrefix: string;
  #closed = false;

  constructor(options: TransportOptions) {
    const { apiKey, dispatcher, ...rest } = options;
    this.#apiKey = apiKey;
    this.#options = rest;
    this.#origin = options.baseUrl.origin;
    this.#pathPrefix = options.baseUrl.pathname.replace(/\/+$/, "");
    this.#semaphore = new Semaphore(options.maxConcurrency);
    this.#pacer = new Pacer({ enabled: options.pacing, ...(options.now === undefined ? {} : { now: options.now }) });
    if (dispatcher) {
      this.#dispatcher = dispatcher;
      this.#ownsDispatcher = false;
    } else {
      this.#dispatcher = new Agent({
        connections: options.maxConcurrency,
        keepAliveTimeout: 10_000,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        connect: { timeout: options.timeoutMs },
      });
      this.#ownsDispatcher = true;
    }
  }

  /** Origin (and path prefix) requests go to; never carries credentials. */
  get baseUrl(): string {
    return this.#origin + this.#pathPrefix;
  }

  /** Requests of this client in flight right now (never above maxConcurrency). */
  get inFlight(): number {
    return this.#semaphore.held;
  }

  /** The pacer's current rate (requests a second) and whether it is pacing at all, for logs and tests. */
  get pacing(): { enabled: boolean; ratePerSecond: number } {
    const state = this.#pacer.state;
    return { enabled: state.enabled, ratePerSecond: state.fillRate };
  }

  /** Closes the dispatcher the transport created; a caller-provided one is left open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pacer.close();
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** Sends one API call with retries; returns the parsed answer or throws a `KlarefiError`. */
  async request<T>(req: TransportRequest<T>): Promise<TransportResponse<T>> {
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const traceId = req.traceId ?? this.#options.traceId;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#apiKey}`,
      accept: "application/json",
      "user-agent": `klarefi-node/${clientVersion()}`,
    };
    if (payload !== undefined) headers["content-type"] = "application/json";
    if (traceId !== undefined) headers[Headers.traceId] = traceId;
    const path = this.#pathPrefix + req.path;
    const label = `${req.method} ${req.path}`;
    const random = this.#options.random ?? Math.random;

    // Ordinary retries and 429 retries are counted apart (retry.ts says why).
    let retries = 0;
    let rateLimitRetries = 0;
    for (let attempts = 1; ; attempts++) {
      this.#throwIfUnusable(req);
      let outcome: RetryOutcome;
      let failure: KlarefiError;
      const release = await this.#semaphore.acquire();
      let answer: { status: number; headers: ResponseHeaders; text: string } | undefined;
      let networkError: unknown;
      let sentAt: number | undefined;
      try {
        this.#throwIfUnusable(req);
        // Wait for this attempt's turn under the rate limit, holding the connection slot it will use.
        sentAt = await this.#pacer.acquire(req.signal);
        this.#throwIfUnusable(req);
        const res = await this.#dispatcher.request({
          origin: this.#origin,
          path,
          method: req.method,
          headers,
          body: payload ?? null,
          headersTimeout: this.#options.timeoutMs,
          bodyTimeout: this.#options.timeoutMs,
          signal: req.signal ?? null,
        });
        const resHeaders = res.headers as ResponseHeaders;
        this.#pacer.observe(
          sentAt,
          res.statusCode,
          parseRateLimitFields(headerValue(resHeaders, Headers.rateLimitPolicy), headerValue(resHeaders, Headers.rateLimit)),
        );
        sentAt = undefined;
        answer = { status: res.statusCode, headers: resHeaders, text: await res.body.text() };
      } catch (error) {
        networkError = error;
      } finally {
        if (sentAt !== undefined) this.#pacer.settled();
        release();
      }

      if (answer === undefined) {
        if (req.signal?.aborted) throw this.#aborted(req);
        if (this.#closed) throw this.#closedError(req);
        const code = errorCode(networkError);
        const kind = networkFailureOf(code);
        const timeout = kind === "timeout" || kind === "connect-timeout";
        outcome = { kind: "network", timeout, failure: kind };
        failure = this.#networkError(req, networkError, code, attempts);
      } else {
        const requestId = headerValue(answer.headers, Headers.requestId);
        const body = parseJson(answer.text);
        if (answer.status >= 200 && answer.status < 300) {
          this.#log(`Klarefi ${label} attempt ${attempts}: ${answer.status}${requestSuffix(requestId)}`);
          const data = parseSuccess(req, answer.status, body, requestId);
          return {
            data,
            status: answer.status,
            ...(requestId === undefined ? {} : { requestId }),
            replayed: headerValue(answer.headers, Headers.idempotentReplayed) === "true",
            attempts,
          };
        }
        failure = errorFromResponse({ operation: req.operation, status: answer.status, body: body.ok ? body.value : answer.text, headers: answer.headers });
        const retryAfterHeader = headerValue(answer.headers, Headers.retryAfter);
        outcome = {
          kind: "response",
          status: answer.status,
          ...(failure.code === undefined ? {} : { code: failure.code }),
          ...(retryAfterHeader === undefined ? {} : { retryAfterHeader }),
        };
      }

      const decision = decideRetry({
        attempt: retries,
        maxRetries: this.#options.maxRetries,
        rateLimitRetries,
        maxRateLimitRetries: this.#options.maxRateLimitRetries,
        outcome,
        random,
        initialDelayMs: this.#options.initialDelayMs,
        maxDelayMs: this.#options.maxDelayMs,
      });
      const what = failure.status === undefined ? failure.name : `${failure.status} ${failure.code ?? ""}`.trim();
      this.#log(`Klarefi ${label} attempt ${attempts}: ${what}${requestSuffix(failure.requestId)}; ${decision.reason}`);
      if (!decision.retry) throw failure;
      if (decision.budget === "rate_limit") rateLimitRetries++;
      else retries++;
      await sleep(decision.delayMs, req.signal);
    }
  }

  #throwIfUnusable(req: TransportRequest<unknown>): void {
    if (req.signal?.aborted) throw this.#aborted(req);
    if (this.#closed) throw this.#closedError(req);
  }

  #aborted(req: TransportRequest<unknown>): KlarefiConnectionError {
    return new KlarefiConnectionError(`${req.operation} failed: the call was aborted by the caller`, {
      operation: req.operation,
      cause: req.signal?.reason,
    });
  }

  #closedError(req: TransportRequest<unknown>): KlarefiConnectionError {
    return new KlarefiConnectionError(`${req.operation} failed: the Klarefi client was closed; create a new one`, {
      operation: req.operation,
    });
  }

  /**
   * The error of a call that got no answer. The sentence names the setting
   * the base URL came from, so the user fixes the right one: the stack config
   * key for a Pulumi program, the environment variable or flag for the CLI.
   */
  #networkError(req: TransportRequest<unknown>, error: unknown, code: string | undefined, attempts: number): KlarefiConnectionError {
    const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
    const failure = networkFailureOf(code);
    if (failure === "timeout" || failure === "connect-timeout") {
      return new KlarefiTimeoutError(
        `${req.operation} failed: no answer from ${this.baseUrl} within ${this.#options.timeoutMs} ms (${tries})`,
        { operation: req.operation, cause: error, failure },
      );
    }
    const from = this.#options.baseUrlFrom ?? "KLAREFI_BASE_URL";
    return new KlarefiConnectionError(
      `${req.operation} failed: could not reach ${this.baseUrl}${code === undefined ? "" : ` (${code})`} (${tries}); check ${from} and that the API is up`,
      { operation: req.operation, cause: error, failure },
    );
  }

  #log(line: string): void {
    this.#options.logger?.debug(line);
  }
}

type Parsed = { ok: true; value: unknown } | { ok: false };

function parseJson(text: string): Parsed {
  if (text.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function parseSuccess<T>(req: TransportRequest<T>, status: number, body: Parsed, requestId: string | undefined): T {
  const fail = (what: string) =>
    new KlarefiResponseValidationError(`${req.operation} failed: the API answered ${status} but ${what}${requestSuffix(requestId)}`, {
      operation: req.operation,
      status,
      ...(requestId === undefined ? {} : { requestId }),
    });
  if (!body.ok) throw fail("the body is not JSON");
  if (body.value === undefined) throw fail("the body is empty");
  const result = req.schema.safeParse(body.value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined || issue.path.length === 0) throw fail(`the body is not the expected object`);
  const field = issue.path.map(String).join(".");
  const present = valueAt(body.value, issue.path) !== undefined;
  throw fail(present ? `field "${field}" is invalid (${issue.message})` : `field "${field}" is missing`);
}

function errorCode(error: unknown): string | undefined {
  if (error && typeof error === "object") {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const cause = (error as { cause?: unknown }).cause;
    if (cause && cause !== error) return errorCode(cause);
  }
  return undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 && !signal) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    // On abort the loop's next check throws the abort error.
    signal?.addEventListener("abort", done, { once: true });
  });
}
