/**
 * Public surface of the typed Klarefi client (`@klarefi/pulumi/client`):
 * the `Klarefi` class, its error classes, the retry policy and the wire
 * schemas it parses every answer with.
 */
export {
  API_KEY_PATTERN,
  DEFAULT_BASE_URL,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_TIMEOUT_MS,
  Klarefi,
  type KlarefiOptions,
} from "./klarefi";
export { CasesResource, SessionsResource, type CreatedSession } from "./sessions";
export { CLIENT_VERSION, Semaphore, type KlarefiLogger, type RequestOptions } from "./transport";
export {
  errorFromResponse,
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
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  redactSecrets,
  type ErrorResponse,
  type KlarefiErrorDetails,
} from "./errors";
export {
  decideRetry,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MAX_RETRIES,
  isRetryable,
  RETRYABLE_STATUSES,
  type RetryDecision,
  type RetryInput,
  type RetryOutcome,
} from "./retry";
export * from "../contract/schemas";
