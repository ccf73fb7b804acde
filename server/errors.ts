/**
 * @module
 * The local server's refusals: `ApiError` and the constructors of the ones
 * several routes share.
 */
import type { ErrorType, SessionStatus } from "../contract/schemas";

/**
 * An error the local server answers with: it carries the HTTP status and the
 * `ErrorBody` fields. Handlers throw it; the app's error handler renders it, so
 * every refusal has the same shape whichever route raised it.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 422 | 429 | 500 | 503,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    readonly options: { param?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
  }
}

/** 404 for a session (or case) id that the server does not hold. */
export function sessionMissing(id: string, noun: "intake session" | "case" = "intake session"): ApiError {
  return new ApiError(404, "not_found_error", "resource_missing", `No ${noun} ${truncate(id, 80)} exists.`, {
    param: "id",
  });
}

/**
 * 409 `session_not_open` for a change only an open session accepts; the
 * message names the session's status and then `rule`, a sentence saying
 * what was refused.
 */
export function sessionNotOpen(id: string, status: SessionStatus, rule: string): ApiError {
  return new ApiError(409, "invalid_request_error", "session_not_open", `Intake session ${truncate(id, 80)} is ${status}; ${rule}`, {
    param: "id",
  });
}

/** Shortens user-supplied text before it goes into a message. */
export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}...`;
}
