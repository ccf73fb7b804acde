/**
 * @module
 * What every route module of the local server shares: the dependencies
 * `createKlarefiApp` is built from, the Hono environment (per-request
 * variables), and the small request and response helpers the routes use
 * (trace ids, the error body, JSON bodies, validation errors, commit-then-drop).
 * Kept apart from `app.ts` so the route modules do not import the app that
 * mounts them.
 */
import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import type { z } from "zod";
import { firstProblem } from "../contract/messages";
import type { ErrorBody } from "../contract/schemas";
import type { ServerClock } from "./clock";
import type { RequestCounters } from "./counters";
import { readBodyText } from "./body";
import { ApiError, truncate } from "./errors";
import type { FaultDecision, FaultInjector } from "./faults";
import type { SerializeContext } from "./serialize";
import type { RateLimiter } from "./rate-limit";
import type { KlarefiStore } from "./store";

/** Everything the routes need; `startKlarefiServer` wires it, tests may build it themselves. */
export interface KlarefiAppDeps {
  store: KlarefiStore;
  clock: ServerClock;
  faults: FaultInjector;
  counters: RequestCounters;
  /** The per-API-key rate limit of `/api/v1` (its limit may be null: no limit). */
  rateLimiter: RateLimiter;
  apiKeys: readonly string[];
  adminKey: string;
  caseTypes: readonly string[];
  signingSecret: string;
  /** The base of signed URLs, read on every serialization so it can follow the listening port. */
  publicBaseUrl: () => string;
  /** Told about unexpected errors (answered 500 `internal_error`); the default says nothing. */
  onInternalError?: (error: unknown, requestId: string) => void;
}

/** The Hono environment of every route module: node bindings and the per-request variables. */
export type AppEnv = {
  Bindings: HttpBindings;
  Variables: {
    requestId: string;
    traceId: string | undefined;
    fault: FaultDecision | undefined;
    /** Idempotency scope of the authenticated API key (`/api/v1` only). */
    scope: string;
    dropped: boolean;
    /** Route template the request is counted under (`/api/v1` only). */
    route: string;
    /** True when the rate limit (not the fault injector) refused the request (`/api/v1` only). */
    rateLimited: boolean;
  };
};
export type Ctx = Context<AppEnv>;

/** What serializing a session needs now: the server time, the public base URL and the signing secret. */
export function serializeContext(deps: KlarefiAppDeps): SerializeContext {
  return { nowMs: deps.clock.now(), publicBaseUrl: deps.publicBaseUrl(), signingSecret: deps.signingSecret };
}

/** Records the request's trace id and echoes it in the `Klarefi-Trace-Id` header. */
export function setTrace(c: Ctx, traceId: string): void {
  c.set("traceId", traceId);
  c.header("Klarefi-Trace-Id", traceId);
}

/** Renders an `ApiError` as the contract's `ErrorBody`, with the request id, trace id and `Retry-After`. */
export function errorResponse(c: Ctx, error: ApiError): Response {
  const traceId = c.get("traceId");
  const body: ErrorBody = {
    error: {
      type: error.type,
      code: error.code,
      message: error.message,
      ...(error.options.param === undefined ? {} : { param: error.options.param }),
      request_id: c.get("requestId"),
      ...(traceId === undefined ? {} : { trace_id: traceId }),
    },
  };
  if (error.options.retryAfterSeconds !== undefined) c.header("Retry-After", String(error.options.retryAfterSeconds));
  // The rest of an oversized body is not read: close the connection instead of draining it.
  if (error.status === 413) c.header("Connection", "close");
  return c.json(body, error.status);
}

/** Destroys the connection after a committed change when the fault injector asked for it. */
export function dropIfAsked(c: Ctx): void {
  if (c.get("fault")?.dropAfterCommit !== true) return;
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming === undefined) return;
  c.set("dropped", true);
  incoming.socket.destroy();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads the body as a JSON object whatever the content type says; answers
 * undefined for an empty body when it is optional, 400 `invalid_json` otherwise,
 * 413 `body_too_large` past MAX_BODY_BYTES (see body.ts).
 */
export async function readJson(c: Ctx, required: boolean): Promise<unknown> {
  const text = await readBodyText(c);
  if (text.trim() === "") {
    if (!required) return undefined;
    throw new ApiError(400, "invalid_request_error", "invalid_json", "The request body is empty; send a JSON object.");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's own message quotes the body, which may hold anything: keep it out.
    throw new ApiError(400, "invalid_request_error", "invalid_json", "The request body is not valid JSON.");
  }
  if (!isRecord(value)) {
    throw new ApiError(400, "invalid_request_error", "invalid_json", "The request body must be a JSON object.");
  }
  return value;
}

/**
 * Maps the first zod issue to a 400: unknown field (`parameter_unknown`),
 * missing field (`parameter_missing`) or invalid field (`parameter_invalid`),
 * naming it in `param`. The message is the contract's own wording
 * (`contract/messages.ts`), the same the client and the provider show.
 */
export function validationError(error: z.ZodError, raw: unknown): ApiError {
  const problem = firstProblem(error, raw);
  if (problem === undefined) {
    return new ApiError(400, "invalid_request_error", "parameter_invalid", "The request body is not valid.");
  }
  if (problem.field === "") return new ApiError(400, "invalid_request_error", "parameter_invalid", problem.message);
  const param = truncate(problem.field, 64);
  const unknown = error.issues.some((i) => i.code === "unrecognized_keys");
  const code = unknown ? "parameter_unknown" : isRecord(raw) && raw[problem.field] === undefined ? "parameter_missing" : "parameter_invalid";
  return new ApiError(400, "invalid_request_error", code, problem.message, { param });
}
