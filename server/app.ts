import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { HttpBindings } from "@hono/node-server";
import { Hono, type Context } from "hono";
import type { z } from "zod";
import {
  CreateSessionRequest,
  DEFAULT_EXPIRY_DAYS,
  type ErrorBody,
  MAX_EXPIRY_DAYS,
  TraceId,
} from "../contract/schemas";
import {
  AdminClockRequest,
  type AdminClockResponse,
  type AdminCounters,
  AdminResetRequest,
  type AdminResetResponse,
  type AdminSessionList,
  AdminSessionsQuery,
} from "./admin-schemas";
import { floorToSecond, formatTimestamp, type ServerClock } from "./clock";
import { API_ROUTES, type RequestCounters, routeTemplate } from "./counters";
import { ApiError, sessionMissing, truncate } from "./errors";
import { FaultConfig, type FaultDecision, type FaultInjector } from "./faults";
import { PAGE_HEADERS, type LinkProblem, renderIntakePage, renderLinkProblemPage, renderSubmittedPage } from "./hosted-page";
import { newRequestId, newSessionId } from "./ids";
import { linkExpSeconds, toCase, toSession } from "./serialize";
import { verifyLink } from "./signing";
import { apiKeyScope, effectiveStatus, type KlarefiStore, type SessionRecord } from "./store";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Everything the routes need; `startKlarefiServer` wires it, tests may build it themselves. */
export interface KlarefiAppDeps {
  store: KlarefiStore;
  clock: ServerClock;
  faults: FaultInjector;
  counters: RequestCounters;
  apiKeys: readonly string[];
  adminKey: string;
  caseTypes: readonly string[];
  signingSecret: string;
  /** The base of signed URLs, read on every serialization so it can follow the listening port. */
  publicBaseUrl: () => string;
  /** Told about unexpected errors (answered 500 `internal_error`); the default says nothing. */
  onInternalError?: (error: unknown, requestId: string) => void;
}

type AppEnv = {
  Bindings: HttpBindings;
  Variables: {
    requestId: string;
    traceId: string | undefined;
    fault: FaultDecision | undefined;
    scope: string;
    dropped: boolean;
    route: string;
  };
};
type Ctx = Context<AppEnv>;

/**
 * The local Klarefi server as a Hono app: the `/api/v1` contract of
 * docs/klarefi-api.md, the hosted intake pages under `/i/`, and the dev-only
 * `/_admin/*` endpoints. Builds routes only; it listens nowhere.
 */
export function createKlarefiApp(deps: KlarefiAppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const apiKeyDigests = deps.apiKeys.map((k) => ({ key: k, digest: sha256(k) }));
  const adminDigest = sha256(deps.adminKey);

  // Request id and trace id on every answer.
  app.use("*", async (c, next) => {
    const requestId = newRequestId();
    c.set("requestId", requestId);
    c.set("dropped", false);
    c.set("fault", undefined);
    c.set("traceId", undefined);
    c.header("Request-Id", requestId);
    const headerTrace = c.req.header("klarefi-trace-id");
    if (headerTrace !== undefined && TraceId.safeParse(headerTrace).success) setTrace(c, headerTrace);
    await next();
    if (!c.res.headers.has("request-id")) c.header("Request-Id", requestId);
    const trace = c.get("traceId");
    if (trace !== undefined && c.res.headers.get("klarefi-trace-id") !== trace) c.header("Klarefi-Trace-Id", trace);
  });

  // /api/v1: count every request, authenticate, inject faults.
  app.use("/api/v1/*", async (c, next) => {
    const route = routeTemplate(c.req.method, c.req.path);
    c.set("route", route);
    deps.counters.enter();
    try {
      await next();
    } finally {
      deps.counters.leave();
      deps.counters.record(route, c.res.status, c.get("dropped"));
    }
  });
  app.use("/api/v1/*", async (c, next) => {
    const key = bearerToken(c);
    if (key === undefined) {
      throw new ApiError(
        401,
        "authentication_error",
        "missing_api_key",
        "No API key was provided; send it as Authorization: Bearer <key>.",
      );
    }
    const digest = sha256(key);
    const match = apiKeyDigests.find((k) => timingSafeEqual(k.digest, digest));
    if (match === undefined) {
      throw new ApiError(401, "authentication_error", "invalid_api_key", "The API key provided is not valid.");
    }
    c.set("scope", apiKeyScope(match.key));
    await next();
  });
  app.use("/api/v1/*", async (c, next) => {
    const route = c.get("route");
    const decision = deps.faults.next(route === API_ROUTES.createSession || route === API_ROUTES.revokeSession);
    c.set("fault", decision);
    const retryAfterSeconds = decision.retryAfterSeconds;
    if (decision.status === 429) {
      throw new ApiError(
        429,
        "rate_limit_error",
        "rate_limited",
        `Too many requests; retry after ${retryAfterSeconds} seconds.`,
        { retryAfterSeconds },
      );
    }
    if (decision.status === 500) {
      throw new ApiError(500, "api_error", "internal_error", "The server failed to handle the request (injected fault).");
    }
    if (decision.status === 503) {
      throw new ApiError(
        503,
        "api_error",
        "service_unavailable",
        `The service is temporarily unavailable; retry after ${retryAfterSeconds} seconds.`,
        { retryAfterSeconds },
      );
    }
    // Creates wait after taking their idempotency key, so concurrent duplicates can see it in flight.
    if (route !== API_ROUTES.createSession && decision.latencyMs > 0) await sleep(decision.latencyMs);
    await next();
  });

  const serializeCtx = () => ({
    nowMs: deps.clock.now(),
    publicBaseUrl: deps.publicBaseUrl(),
    signingSecret: deps.signingSecret,
  });

  app.post("/api/v1/sessions", async (c) => {
    const raw = await readJson(c, true);
    if (isRecord(raw) && typeof raw.trace_id === "string" && TraceId.safeParse(raw.trace_id).success) {
      setTrace(c, raw.trace_id);
    }
    const parsed = CreateSessionRequest.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    const req = parsed.data;
    const expiresMs = req.expires_at === undefined ? undefined : floorToSecond(Date.parse(req.expires_at));
    const scope = c.get("scope");
    const key = req.idempotency_key;
    const bodyHash = canonicalBodyHash(req, expiresMs);

    const reservation = deps.store.reserveIdempotency(scope, key, bodyHash, deps.clock.now(), randomUUID());
    if (reservation.kind === "replay") {
      c.header("Idempotent-Replayed", "true");
      dropIfAsked(c);
      return c.json(toSession(reservation.session, serializeCtx()), 201);
    }
    if (reservation.kind === "mismatch") {
      throw new ApiError(
        422,
        "idempotency_error",
        "idempotency_key_reused",
        `The idempotency key "${truncate(key, 80)}" was already used with a different request body; use a new key for a different request.`,
        { param: "idempotency_key" },
      );
    }
    if (reservation.kind === "in_use") throw keyInUse(key);

    const token = reservation.token;
    try {
      if (!deps.caseTypes.includes(req.case_type_id)) {
        throw new ApiError(
          422,
          "invalid_request_error",
          "unknown_case_type",
          `Unknown case_type_id "${truncate(req.case_type_id, 64)}"; known case types: ${deps.caseTypes.join(", ")}.`,
          { param: "case_type_id" },
        );
      }
      if (expiresMs !== undefined) {
        const now = deps.clock.now();
        if (expiresMs <= now || expiresMs > now + MAX_EXPIRY_DAYS * DAY_MS) {
          throw new ApiError(
            422,
            "invalid_request_error",
            "expires_at_out_of_range",
            `expires_at must be in the future and at most ${MAX_EXPIRY_DAYS} days ahead; got ${req.expires_at}.`,
            { param: "expires_at" },
          );
        }
      }
      const latencyMs = c.get("fault")?.latencyMs ?? 0;
      if (latencyMs > 0) await sleep(latencyMs);

      const createdAt = deps.clock.now();
      const record: SessionRecord = {
        session_id: newSessionId(),
        case_type_id: req.case_type_id,
        idempotency_key: key,
        external_case_id: req.external_case_id,
        external_applicant_id: req.external_applicant_id,
        return_url: req.return_url ?? null,
        locale: req.locale ?? null,
        trace_id: req.trace_id ?? null,
        state: "open",
        expires_at: expiresMs ?? floorToSecond(createdAt + DEFAULT_EXPIRY_DAYS * DAY_MS),
        created_at: createdAt,
        revoked_at: null,
        completed_at: null,
      };
      if (!deps.store.completeCreate(scope, key, token, bodyHash, record)) throw keyInUse(key);
      dropIfAsked(c);
      return c.json(toSession(record, serializeCtx()), 201);
    } catch (error) {
      deps.store.releaseIdempotency(scope, key, token);
      throw error;
    }
  });

  app.get("/api/v1/sessions/:id", (c) => {
    const id = c.req.param("id");
    const record = deps.store.getSession(id);
    if (record === undefined) throw sessionMissing(id);
    return c.json(toSession(record, serializeCtx()), 200);
  });

  app.post("/api/v1/sessions/:id/revoke", (c) => {
    const id = c.req.param("id");
    const record = deps.store.revokeSession(id, deps.clock.now());
    if (record === undefined) throw sessionMissing(id);
    dropIfAsked(c);
    return c.json(toSession(record, serializeCtx()), 200);
  });

  app.get("/api/v1/cases/:id", (c) => {
    const id = c.req.param("id");
    const record = deps.store.getSession(id);
    if (record === undefined) throw sessionMissing(id, "case");
    return c.json(toCase(record, deps.clock.now()), 200);
  });

  // Hosted applicant pages.
  const hosted = async (c: Ctx, submit: boolean) => {
    for (const [name, value] of Object.entries(PAGE_HEADERS)) c.header(name, value);
    const id = c.req.param("id") ?? "";
    const exp = c.req.query("exp");
    const sig = c.req.query("sig");
    const problem = (p: LinkProblem) => {
      const page = renderLinkProblemPage(p);
      return c.html(page.html, page.status);
    };
    const check = verifyLink(deps.signingSecret, id, exp, sig);
    if (!check.ok) return problem("invalid");
    const record = deps.store.getSession(id);
    if (record === undefined) return problem("invalid");
    const now = deps.clock.now();
    const status = effectiveStatus(record, now);
    if (status === "revoked") return problem("revoked");
    if (status === "completed") return problem("submitted");
    if (status === "expired" || check.expSeconds * 1000 <= now) return problem("expired");
    if (submit) {
      await c.req.text().catch(() => "");
      const done = deps.store.completeSession(id, now);
      if (done === undefined || done.state !== "completed") return problem("expired");
      return c.html(renderSubmittedPage({ caseTypeId: done.case_type_id, locale: done.locale, returnUrl: done.return_url }), 200);
    }
    return c.html(
      renderIntakePage({
        sessionId: record.session_id,
        caseTypeId: record.case_type_id,
        externalCaseId: record.external_case_id,
        locale: record.locale,
        returnUrl: record.return_url,
        formAction: `/i/${encodeURIComponent(record.session_id)}?exp=${linkExpSeconds(record)}&sig=${sig ?? ""}`,
        expiresAt: formatTimestamp(record.expires_at),
      }),
      200,
    );
  };
  app.get("/i/:id", (c) => hosted(c, false));
  app.post("/i/:id", (c) => hosted(c, true));

  app.get("/healthz", (c) => c.json({ status: "ok" }, 200));

  // Dev-only admin endpoints.
  app.use("/_admin/*", async (c, next) => {
    const key = bearerToken(c);
    if (key === undefined) {
      throw new ApiError(
        401,
        "authentication_error",
        "missing_api_key",
        "No admin key was provided; send it as Authorization: Bearer <admin key>.",
      );
    }
    if (!timingSafeEqual(sha256(key), adminDigest)) {
      throw new ApiError(401, "authentication_error", "invalid_api_key", "The admin key provided is not valid.");
    }
    await next();
  });

  app.get("/_admin/sessions", (c) => {
    const query = Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== ""));
    const parsed = AdminSessionsQuery.safeParse(query);
    if (!parsed.success) throw validationError(parsed.error, query);
    const ctx = serializeCtx();
    const body: AdminSessionList = {
      data: deps.store.listSessions(parsed.data, ctx.nowMs).map((r) => toSession(r, ctx)),
    };
    return c.json(body, 200);
  });

  app.get("/_admin/counters", (c) => {
    const body: AdminCounters = { counters: deps.counters.snapshot(), peak_in_flight: deps.counters.peakInFlight };
    return c.json(body, 200);
  });

  app.post("/_admin/reset", async (c) => {
    const raw = (await readJson(c, false)) ?? {};
    const parsed = AdminResetRequest.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    deps.store.reset();
    deps.counters.clear();
    if (parsed.data.faults === true) deps.faults.clear();
    if (parsed.data.clock === true) deps.clock.reset();
    const body: AdminResetResponse = { ok: true };
    return c.json(body, 200);
  });

  app.get("/_admin/faults", (c) => c.json(deps.faults.config, 200));
  app.put("/_admin/faults", async (c) => {
    const raw = await readJson(c, true);
    const parsed = FaultConfig.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    return c.json(deps.faults.configure(parsed.data), 200);
  });

  app.get("/_admin/clock", (c) => {
    const body: AdminClockResponse = { now: new Date(deps.clock.now()).toISOString() };
    return c.json(body, 200);
  });
  app.post("/_admin/clock", async (c) => {
    const raw = await readJson(c, true);
    const parsed = AdminClockRequest.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    const body: AdminClockResponse = { now: new Date(deps.clock.advance(parsed.data.advance_seconds)).toISOString() };
    return c.json(body, 200);
  });

  app.notFound((c) =>
    errorResponse(
      c,
      new ApiError(404, "not_found_error", "resource_missing", `Unrecognized request URL (${c.req.method} ${truncate(c.req.path, 120)}).`),
    ),
  );

  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error);
    const requestId = c.get("requestId");
    deps.onInternalError?.(error, requestId);
    return errorResponse(
      c,
      new ApiError(500, "api_error", "internal_error", `The server failed to handle the request; quote request id ${requestId} when reporting it.`),
    );
  });

  return app;
}

function setTrace(c: Ctx, traceId: string): void {
  c.set("traceId", traceId);
  c.header("Klarefi-Trace-Id", traceId);
}

function errorResponse(c: Ctx, error: ApiError): Response {
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
  return c.json(body, error.status);
}

function keyInUse(key: string): ApiError {
  return new ApiError(
    409,
    "idempotency_error",
    "idempotency_key_in_use",
    `The idempotency key "${truncate(key, 80)}" is in use by a request that has not finished; retry after 1 second.`,
    { param: "idempotency_key", retryAfterSeconds: 1 },
  );
}

/** Destroys the connection after a committed change when the fault injector asked for it. */
function dropIfAsked(c: Ctx): void {
  if (c.get("fault")?.dropAfterCommit !== true) return;
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming === undefined) return;
  c.set("dropped", true);
  incoming.socket.destroy();
}

function bearerToken(c: Ctx): string | undefined {
  const header = c.req.header("authorization");
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function readJson(c: Ctx, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await c.req.text();
  } catch {
    throw new ApiError(400, "invalid_request_error", "invalid_json", "The request body could not be read.");
  }
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

/** Maps the first zod issue to a 400: unknown field, missing field or invalid field, naming it in `param`. */
function validationError(error: z.ZodError, raw: unknown): ApiError {
  const issue = error.issues.find((i) => i.code === "unrecognized_keys") ?? error.issues[0];
  if (issue === undefined) {
    return new ApiError(400, "invalid_request_error", "parameter_invalid", "The request body is not valid.");
  }
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.map((k) => truncate(k, 64));
    return new ApiError(
      400,
      "invalid_request_error",
      "parameter_unknown",
      `Received unknown parameter${names.length === 1 ? "" : "s"}: ${names.join(", ")}.`,
      { param: names[0] ?? "" },
    );
  }
  const field = issue.path[0];
  if (field === undefined) {
    return new ApiError(400, "invalid_request_error", "parameter_invalid", issue.message);
  }
  const param = String(field);
  if (isRecord(raw) && raw[param] === undefined) {
    return new ApiError(400, "invalid_request_error", "parameter_missing", `Missing required parameter ${param}.`, { param });
  }
  const message = issue.message.startsWith(param) ? issue.message : `${param} ${issue.message}`;
  return new ApiError(400, "invalid_request_error", "parameter_invalid", message, { param });
}

/**
 * The idempotency fingerprint of a create: every field that shapes the
 * session, in a fixed order, with `expires_at` as an instant so equivalent
 * spellings match. `trace_id` is left out: it names the attempt, not the
 * session, so a retry with a fresh trace id still replays.
 */
function canonicalBodyHash(req: z.output<typeof CreateSessionRequest>, expiresMs: number | undefined): string {
  const canonical = [
    req.case_type_id,
    req.idempotency_key,
    req.external_case_id,
    req.external_applicant_id,
    req.return_url ?? null,
    req.locale ?? null,
    expiresMs ?? null,
  ];
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}
