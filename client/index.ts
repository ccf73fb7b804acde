/**
 * @module
 * Public surface of the typed Klarefi client (`@klarefi/pulumi/client`): the
 * `Klarefi` class and its settings, the `sessions` and `cases` resources, the
 * error classes, and the wire schemas it parses every answer with.
 * Internals (the transport's semaphore, the retry policy, the error factory)
 * are not exported here: import them from their modules in this folder if you
 * are working on the client itself.
 */
export { Klarefi, type KlarefiOptions } from "./klarefi";
export {
  API_KEY_PATTERN,
  ClientSettings,
  DEFAULT_BASE_URL,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_TIMEOUT_MS,
} from "./settings";
export { DEFAULT_INITIAL_DELAY_MS, DEFAULT_MAX_DELAY_MS, DEFAULT_MAX_RATE_LIMIT_RETRIES, DEFAULT_MAX_RETRIES } from "./retry";
export { CasesResource, SessionsResource, type CreatedSession } from "./sessions";
export { clientVersion, type KlarefiLogger, type RequestOptions } from "./transport";
export {
  KlarefiApiError,
  KlarefiAuthenticationError,
  KlarefiConfigError,
  KlarefiConflictError,
  KlarefiConnectionError,
  KlarefiError,
  KlarefiNotFoundError,
  KlarefiRateLimitError,
  KlarefiResponseValidationError,
  KlarefiTimeoutError,
  KlarefiValidationError,
  type KlarefiErrorDetails,
} from "./errors";
export * from "../contract/schemas";
