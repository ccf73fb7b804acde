import { KlarefiValidationError } from "./errors";
import { Case, CreateSessionRequest, Session } from "../contract/schemas";
import type { RequestOptions, Transport, TransportResponse } from "./transport";

/**
 * The `sessions` and `cases` resources of the Klarefi client. Bodies are the
 * API's own (snake_case, as the product documentation shows them); answers are
 * parsed with the schemas in schemas.ts before they are returned.
 */

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
    const checked = CreateSessionRequest.safeParse(body);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      const param = issue?.path.map(String).join(".") || undefined;
      const what = issue === undefined ? "the body is invalid" : describeIssue(param, issue.message, body);
      throw new KlarefiValidationError(`${operation} failed: ${what} (checked before sending)`, {
        operation,
        code: "invalid_request",
        ...(param === undefined ? {} : { param }),
      });
    }
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

function describeIssue(param: string | undefined, message: string, body: unknown): string {
  if (param === undefined) return message;
  if (body !== null && typeof body === "object" && (body as Record<string, unknown>)[param] === undefined) {
    return `${param} is required`;
  }
  // Schema messages already name the field ("return_url must be ...").
  return message.startsWith(param) ? message : `${param} ${message}`;
}
