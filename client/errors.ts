/**
 * @module
 * Errors of the Klarefi client.
 *
 * One base class, `KlarefiError`, so callers can catch everything the client
 * throws with one `instanceof`, and one factory, `errorFromResponse`, that maps
 * every non-2xx answer of the API to its subclass. Messages are one sentence
 * that says what was being done, what the API answered and the request id to
 * quote to Klarefi support; they never contain an API key or a signed URL.
 */
import { LOCAL_TEST_API_KEY } from "../contract/fields";
import { ErrorBody, Headers } from "../contract/schemas";

/**
 * What kind of network failure ended an attempt, from the error code Node.js
 * or undici gave it:
 * - `refused`: nothing listens at the address (`ECONNREFUSED`);
 * - `dns`: the host name does not exist (`ENOTFOUND`);
 * - `dns-retry`: the resolver could not answer yet (`EAI_AGAIN`);
 * - `tls`: the TLS handshake failed (certificate, protocol);
 * - `unreachable`: no route to the host or network (`EHOSTUNREACH`, `ENETUNREACH`, …);
 * - `connect-timeout`: the connection was not set up within the timeout;
 * - `reset`: a connection broke (`ECONNRESET`, `EPIPE`, undici's closed socket);
 * - `timeout`: connected, but no answer within the timeout;
 * - `other`: anything else.
 */
export type NetworkFailure = "refused" | "dns" | "dns-retry" | "tls" | "unreachable" | "connect-timeout" | "reset" | "timeout" | "other";

/** What an error knows about the call that failed. */
export interface KlarefiErrorDetails {
  /** What the client was doing, e.g. "Creating intake session". */
  operation: string;
  status?: number;
  type?: string;
  code?: string;
  param?: string;
  requestId?: string;
  traceId?: string;
  cause?: unknown;
}

/** Base class of every error the Klarefi client throws. */
export class KlarefiError extends Error {
  override name = "KlarefiError";
  /** What the client was doing, e.g. "Revoking intake session ses_123". */
  readonly operation: string;
  /** HTTP status of the answer, when there was one. */
  readonly status?: number;
  /** The API's `error.type`, e.g. `invalid_request_error`. */
  readonly type?: string;
  /** The API's `error.code`, e.g. `unknown_case_type`. */
  readonly code?: string;
  /** The request field the error is about, when the API named one. */
  readonly param?: string;
  /** The `Request-Id` of the answer: quote it to Klarefi support. */
  readonly requestId?: string;
  readonly traceId?: string;

  constructor(message: string, details: KlarefiErrorDetails) {
    super(redactSecrets(message), details.cause === undefined ? undefined : { cause: details.cause });
    this.operation = details.operation;
    if (details.status !== undefined) this.status = details.status;
    if (details.type !== undefined) this.type = details.type;
    if (details.code !== undefined) this.code = details.code;
    if (details.param !== undefined) this.param = details.param;
    if (details.requestId !== undefined) this.requestId = details.requestId;
    if (details.traceId !== undefined) this.traceId = details.traceId;
  }
}

/** The API key was refused (401), or the answer's type is `authentication_error`. */
export class KlarefiAuthenticationError extends KlarefiError {
  override name = "KlarefiAuthenticationError";
}

/** The request was invalid (400/422, or refused by the client before sending); `param` names the field. */
export class KlarefiValidationError extends KlarefiError {
  override name = "KlarefiValidationError";
}

/** The session or case does not exist for this API key (404). */
export class KlarefiNotFoundError extends KlarefiError {
  override name = "KlarefiNotFoundError";
}

/**
 * A conflict (409), or an idempotency error: the key is still in use by a
 * request in flight (`idempotency_key_in_use`, retried) or was reused with a
 * different body (`idempotency_key_reused`, not retried).
 */
export class KlarefiConflictError extends KlarefiError {
  override name = "KlarefiConflictError";
}

/** Too many requests (429); `retryAfterMs` is the wait the API asked for, if any. */
export class KlarefiRateLimitError extends KlarefiError {
  override name = "KlarefiRateLimitError";
  readonly retryAfterMs?: number;
  constructor(message: string, details: KlarefiErrorDetails & { retryAfterMs?: number }) {
    super(message, details);
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

/** A server error (5xx) or any other answer the client has no better class for. */
export class KlarefiApiError extends KlarefiError {
  override name = "KlarefiApiError";
}

/**
 * The API could not be reached, or the connection broke before an answer
 * arrived. `failure` says how (retry.ts `networkFailureOf`), when the network
 * gave a reason; absent for a call the caller aborted or a closed client.
 */
export class KlarefiConnectionError extends KlarefiError {
  override name = "KlarefiConnectionError";
  readonly failure?: NetworkFailure;
  constructor(message: string, details: KlarefiErrorDetails & { failure?: NetworkFailure }) {
    super(message, details);
    if (details.failure !== undefined) this.failure = details.failure;
  }
}

/** No answer (headers or body) arrived within `timeoutMs`. */
export class KlarefiTimeoutError extends KlarefiConnectionError {
  override name = "KlarefiTimeoutError";
}

/**
 * The client is misconfigured (API key missing or malformed, bad base URL or
 * setting); thrown before any request. `param` names the setting (`apiKey`,
 * `baseUrl`, `maxConcurrency`, …) and `code` the rule (settings.ts).
 */
export class KlarefiConfigError extends KlarefiError {
  override name = "KlarefiConfigError";
  constructor(message: string, details: { param?: string; code?: string } = {}) {
    super(message, { operation: "Configuring the Klarefi client", ...details });
  }
}

/** A 2xx answer whose body does not match the wire contract (schemas.ts). */
export class KlarefiResponseValidationError extends KlarefiError {
  override name = "KlarefiResponseValidationError";
}

/** Response headers as undici gives them (lower-case names). */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** First value of a header, whatever shape the transport gave it. */
export function headerValue(headers: ResponseHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Largest `Retry-After` the client honours; longer waits are capped to this. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * `Retry-After` in milliseconds: delta-seconds or an HTTP date (relative to
 * `nowMs`); undefined when absent or unreadable. Not capped.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date names its day and month ("Tue, 01 Jan 2030 00:00:05 GMT"); "-1" is not one.
  if (!/^[A-Za-z]{3},? /.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Inputs of `errorFromResponse`: one non-2xx answer of the API. */
export interface ErrorResponse {
  operation: string;
  status: number;
  /** The parsed JSON body, or the raw text when it was not JSON, or undefined when empty. */
  body: unknown;
  headers?: ResponseHeaders;
}

/**
 * The one place that turns a non-2xx answer into a `KlarefiError` subclass.
 * The class follows the status (and the API's error type for idempotency and
 * authentication); the message is `<operation> failed: <status> <API message>
 * (request <id>)`.
 */
export function errorFromResponse({ operation, status, body, headers }: ErrorResponse): KlarefiError {
  const parsed = ErrorBody.safeParse(body);
  const headerRequestId = headerValue(headers, Headers.requestId);
  const headerTraceId = headerValue(headers, Headers.traceId);
  const retryAfterMs = parseRetryAfter(headerValue(headers, Headers.retryAfter));

  const details: KlarefiErrorDetails = { operation, status };
  let apiMessage: string;
  if (parsed.success) {
    const e = parsed.data.error;
    details.type = e.type;
    details.code = e.code;
    if (e.param !== undefined) details.param = e.param;
    details.requestId = e.request_id;
    const traceId = e.trace_id ?? headerTraceId;
    if (traceId !== undefined) details.traceId = traceId;
    apiMessage = e.message.trim().replace(/\s+/g, " ").replace(/\.$/, "");
  } else {
    if (headerRequestId !== undefined) details.requestId = headerRequestId;
    if (headerTraceId !== undefined) details.traceId = headerTraceId;
    apiMessage = `${statusText(status)} (the answer carried no Klarefi error body)`;
  }

  const message = `${operation} failed: ${status} ${apiMessage}${requestSuffix(details.requestId)}`;
  const type = details.type;

  if (status === 401 || type === "authentication_error") return new KlarefiAuthenticationError(message, details);
  if (status === 409 || type === "idempotency_error") return new KlarefiConflictError(message, details);
  if (status === 429 || type === "rate_limit_error") {
    return new KlarefiRateLimitError(message, retryAfterMs === undefined ? details : { ...details, retryAfterMs });
  }
  if (status === 404 || type === "not_found_error") return new KlarefiNotFoundError(message, details);
  if (status === 400 || status === 422 || type === "invalid_request_error") {
    return new KlarefiValidationError(message, details);
  }
  return new KlarefiApiError(message, details);
}

/** ` (request req_…)` or nothing. */
export function requestSuffix(requestId: string | undefined): string {
  return requestId === undefined ? "" : ` (request ${requestId})`;
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    409: "conflict",
    422: "unprocessable entity",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
  };
  return texts[status] ?? "unexpected answer";
}

/**
 * Removes what must never reach a log or an error message: API keys and the
 * query strings of URLs (where signed URLs carry their signature). A defence
 * in depth: messages are built from API error texts, which should hold neither.
 * The one key let through is the local server's documented public test key
 * (`LOCAL_TEST_API_KEY`, exactly), so hints can show it.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/sk_(test|live)_[A-Za-z0-9_]+/g, (key, mode: string) => (key === LOCAL_TEST_API_KEY ? key : `sk_${mode}_[redacted]`))
    .replace(/\b(https?:\/\/[^\s"'?#]+)[?#][^\s"']*/g, "$1?[redacted]");
}
