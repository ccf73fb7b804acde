/**
 * @module
 * The `sessions` and `cases` resources of the Klarefi client. Bodies are the
 * API's own (snake_case, as the product documentation shows them); they are
 * checked against the contract before sending (contract/fields.ts rules,
 * worded by contract/messages.ts), and answers are parsed with the contract's
 * schemas before they are returned.
 */
import type { z } from "zod";
import { firstProblem } from "../contract/messages";
import { Case, CreateSessionRequest, Session, UpdateSessionRequest } from "../contract/schemas";
import { KlarefiValidationError } from "./errors";
import type { RequestOptions, Transport, TransportResponse } from "./transport";

/** A created session plus what the API said about the call. */
export interface CreatedSession {
  session: Session;
  requestId?: string;
  /** True when the API replayed the session stored under this idempotency key. */
  replayed: boolean;
  attempts: number;
}

export class SessionsResource {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /**
   * Creates a hosted intake session (`POST /api/v1/sessions`). The body is
   * checked against the contract before sending, then sent unchanged on every
   * attempt, so retries carry the same `idempotency_key` and cannot create a
   * second session.
   */
  async create(body: CreateSessionRequest, options?: RequestOptions): Promise<Session> {
    return (await this.createWithResponse(body, options)).session;
  }

  /** Like `create`, plus the request id, whether the answer was a replay and the attempts made. */
  async createWithResponse(body: CreateSessionRequest, options: RequestOptions = {}): Promise<CreatedSession> {
    const operation = "Creating intake session";
    preflight(operation, CreateSessionRequest, body);
    const traceId = options.traceId ?? body.trace_id;
    const res: TransportResponse<Session> = await this.#transport.request({
      operation,
      method: "POST",
      path: "/api/v1/sessions",
      body,
      schema: Session,
      ...(traceId === undefined ? {} : { traceId }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return {
      session: res.data,
      ...(res.requestId === undefined ? {} : { requestId: res.requestId }),
      replayed: res.replayed,
      attempts: res.attempts,
    };
  }

  /** Reads a session (`GET /api/v1/sessions/{id}`); 404 becomes `KlarefiNotFoundError`. */
  async retrieve(id: string, options: RequestOptions = {}): Promise<Session> {
    const operation = `Retrieving intake session ${describeId(id)}`;
    const path = `/api/v1/sessions/${checkId(id, operation, "session")}`;
    return (await this.#transport.request({ operation, method: "GET", path, schema: Session, ...pass(options) })).data;
  }

  /**
   * Moves an open session's expiry (`PATCH /api/v1/sessions/{id}` with
   * `{ expires_at }`): the session keeps its id and its signed URL. Setting an
   * expiry is idempotent, so it is retried like a create. An assumption of
   * this project (docs/klarefi-api.md): an API without the route answers
   * 404 or 405, thrown as `KlarefiNotFoundError` / `KlarefiApiError`.
   */
  async update(id: string, body: UpdateSessionRequest, options: RequestOptions = {}): Promise<Session> {
    const operation = `Updating intake session ${describeId(id)}`;
    const path = `/api/v1/sessions/${checkId(id, operation, "session")}`;
    preflight(operation, UpdateSessionRequest, body);
    return (await this.#transport.request({ operation, method: "PATCH", path, body, schema: Session, ...pass(options) })).data;
  }

  /**
   * Revokes a session's link (`POST /api/v1/sessions/{id}/revoke`). Idempotent:
   * revoking a revoked session answers 200 with the session, so it is retried
   * like a create.
   */
  async revoke(id: string, options: RequestOptions = {}): Promise<Session> {
    const operation = `Revoking intake session ${describeId(id)}`;
    const path = `/api/v1/sessions/${checkId(id, operation, "session")}/revoke`;
    return (await this.#transport.request({ operation, method: "POST", path, schema: Session, ...pass(options) })).data;
  }
}

export class CasesResource {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Reads the case behind a hosted session (`GET /api/v1/cases/{id}`); in v1 the case id is the session id. */
  async retrieve(id: string, options: RequestOptions = {}): Promise<Case> {
    const operation = `Retrieving case ${describeId(id)}`;
    const path = `/api/v1/cases/${checkId(id, operation, "case")}`;
    return (await this.#transport.request({ operation, method: "GET", path, schema: Case, ...pass(options) })).data;
  }
}

function pass(options: RequestOptions): RequestOptions {
  return {
    ...(options.traceId === undefined ? {} : { traceId: options.traceId }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
}

/** The id as it may appear in a message: printable, short. */
function describeId(id: unknown): string {
  if (typeof id !== "string" || id === "") return "(no id)";
  const printable = id.replace(/[^\x21-\x7e]/g, "?");
  return printable.length > 64 ? `${printable.slice(0, 64)}…` : printable;
}

/** Refuses ids that would change the path (empty, `/`, dot segments, control characters); returns it URL-encoded. */
function checkId(id: unknown, operation: string, what: string): string {
  const bad =
    typeof id !== "string" || id.trim() === "" || id.includes("/") || id === "." || id === ".." || /[\x00-\x1f\x7f]/.test(id);
  if (bad) {
    throw new KlarefiValidationError(
      `${operation} failed: the ${what} id must be a non-empty string without "/" (checked before sending)`,
      { operation, code: "invalid_id", param: "id" },
    );
  }
  return encodeURIComponent(id);
}

/**
 * Checks a request body against the contract before sending, worded as the
 * server words it. Whether an `expires_at` lies in the future is left to the
 * server: it judges by its own clock, and it replays a create whose expiry has
 * passed since (docs/klarefi-api.md, idempotency), which a check here would
 * block.
 */
function preflight(operation: string, schema: z.ZodType, body: unknown): void {
  const checked = schema.safeParse(body);
  if (checked.success) return;
  const problem = firstProblem(checked.error, body);
  throw new KlarefiValidationError(`${operation} failed: ${problem?.message ?? "the body is invalid"} (checked before sending)`, {
    operation,
    code: "invalid_request",
    ...(problem === undefined || problem.field === "" ? {} : { param: problem.field }),
  });
}
