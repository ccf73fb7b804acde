/**
 * @module
 * The `/api/v1` routes of the local server (docs/klarefi-api.md sections 3
 * to 5): create, read, update (expiry) and revoke a session, read a case.
 * Every request is counted under its route template, authenticated with an
 * API key, drawn from its key's rate limit (rate-limit.ts), then offered to
 * the fault injector, in that order.
 */
import { createHash, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Hono } from "hono";
import type { z } from "zod";
import {
  CreateSessionRequest,
  DEFAULT_EXPIRY_DAYS,
  type SessionStatus,
  TraceId,
  UpdateSessionRequest,
} from "../../contract/schemas";
import { expiryProblem } from "../../contract/fields";
import { bearerAuth } from "../auth";
import { floorToSecond } from "../clock";
import {
  type AppEnv,
  dropIfAsked,
  isRecord,
  type KlarefiAppDeps,
  readJson,
  serializeContext,
  setTrace,
  validationError,
} from "../context";
import { API_ROUTES, routeTemplate } from "../counters";
import { rateLimitField, rateLimitPolicyField } from "../rate-limit";
import { ApiError, sessionMissing, sessionNotOpen, truncate } from "../errors";
import { newSessionId } from "../ids";
import { toCase, toSession } from "../serialize";
import { apiKeyScope, effectiveStatus, type SessionRecord } from "../store";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Routes whose successful change may be committed and then dropped by the fault injector. */
const DROPPABLE_ROUTES: ReadonlySet<string> = new Set([
  API_ROUTES.createSession,
  API_ROUTES.updateSession,
  API_ROUTES.revokeSession,
]);

/** The `/api/v1` sub-app; mount it with `app.route("/api/v1", apiRoutes(deps))`. */
export function apiRoutes(deps: KlarefiAppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

  // Count every request, 401s and injected faults included.
  api.use("*", async (c, next) => {
    const route = routeTemplate(c.req.method, c.req.path);
    c.set("route", route);
    c.set("rateLimited", false);
    deps.counters.enter();
    try {
      await next();
    } finally {
      deps.counters.leave();
      deps.counters.record(route, c.res.status, c.get("dropped"), c.get("rateLimited"));
    }
  });

  api.use(
    "*",
    bearerAuth({
      keys: deps.apiKeys,
      missingMessage: "No API key was provided; send it as Authorization: Bearer <key>.",
      invalidMessage: "The API key provided is not valid.",
      onAuthenticated: (c, key) => c.set("scope", apiKeyScope(key)),
    }),
  );

  // One token per authenticated request; the RateLimit fields go on every answer while a limit is set.
  api.use("*", async (c, next) => {
    const draw = deps.rateLimiter.take(c.get("scope"));
    if (draw === undefined) return next();
    if (draw.limit.headers) {
      c.header("RateLimit-Policy", rateLimitPolicyField(draw.limit));
      c.header("RateLimit", rateLimitField(draw));
    }
    if (!draw.allowed) {
      c.set("rateLimited", true);
      const retryAfterSeconds = draw.retryAfterSeconds;
      throw new ApiError(
        429,
        "rate_limit_error",
        "rate_limited",
        `Too many requests: this API key may send ${draw.limit.rps} requests a second (bursts of ${draw.limit.burst}); retry after ${retryAfterSeconds} second${retryAfterSeconds === 1 ? "" : "s"}.`,
        { retryAfterSeconds },
      );
    }
    return next();
  });

  api.use("*", async (c, next) => {
    const route = c.get("route");
    const decision = deps.faults.next(DROPPABLE_ROUTES.has(route));
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

  /** 422 unless `expiresMs` lies in the future and at most MAX_EXPIRY_DAYS ahead of the server clock. */
  const checkExpiry = (expiresMs: number, given: string): void => {
    const problem = expiryProblem("expires_at", given, deps.clock.now(), expiresMs);
    if (problem !== undefined) {
      throw new ApiError(422, "invalid_request_error", "expires_at_out_of_range", `${problem}.`, { param: "expires_at" });
    }
  };

  api.post("/sessions", async (c) => {
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
      return c.json(toSession(reservation.session, serializeContext(deps)), 201);
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
      if (expiresMs !== undefined) checkExpiry(expiresMs, req.expires_at ?? "");
      const latencyMs = c.get("fault")?.latencyMs ?? 0;
      if (latencyMs > 0) await sleep(latencyMs);

      const createdAt = deps.clock.now();
      const expiresAt = expiresMs ?? floorToSecond(createdAt + DEFAULT_EXPIRY_DAYS * DAY_MS);
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
        expires_at: expiresAt,
        link_exp: Math.floor(expiresAt / 1000),
        created_at: createdAt,
        revoked_at: null,
        completed_at: null,
      };
      if (!deps.store.completeCreate(scope, key, token, bodyHash, record)) throw keyInUse(key);
      dropIfAsked(c);
      return c.json(toSession(record, serializeContext(deps)), 201);
    } catch (error) {
      deps.store.releaseIdempotency(scope, key, token);
      throw error;
    }
  });

  api.get("/sessions/:id", (c) => {
    const id = c.req.param("id");
    const record = deps.store.getSession(id);
    if (record === undefined) throw sessionMissing(id);
    return c.json(toSession(record, serializeContext(deps)), 200);
  });

  // Moves an open session's expiry; its id and signed URL stay as they are.
  api.patch("/sessions/:id", async (c) => {
    const id = c.req.param("id");
    const raw = await readJson(c, true);
    const parsed = UpdateSessionRequest.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    const existing = deps.store.getSession(id);
    if (existing === undefined) throw sessionMissing(id);
    const now = deps.clock.now();
    const status = effectiveStatus(existing, now);
    if (status !== "open") throw expiryNotChangeable(id, status);
    const expiresMs = floorToSecond(Date.parse(parsed.data.expires_at));
    checkExpiry(expiresMs, parsed.data.expires_at);
    const update = deps.store.updateExpiry(id, expiresMs, now);
    if (update === undefined) throw sessionMissing(id);
    // Revoked or completed by another request between the read and the write.
    if (update.kind === "not_open") throw expiryNotChangeable(id, effectiveStatus(update.session, now));
    dropIfAsked(c);
    return c.json(toSession(update.session, serializeContext(deps)), 200);
  });

  api.post("/sessions/:id/revoke", (c) => {
    const id = c.req.param("id");
    const record = deps.store.revokeSession(id, deps.clock.now());
    if (record === undefined) throw sessionMissing(id);
    dropIfAsked(c);
    return c.json(toSession(record, serializeContext(deps)), 200);
  });

  api.get("/cases/:id", (c) => {
    const id = c.req.param("id");
    const record = deps.store.getSession(id);
    if (record === undefined) throw sessionMissing(id, "case");
    return c.json(toCase(record, deps.clock.now()), 200);
  });

  return api;
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

/** 409 for an expiry change to a session that is revoked, completed or expired. */
function expiryNotChangeable(id: string, status: SessionStatus): ApiError {
  return sessionNotOpen(id, status, "only an open session's expiry can be changed; create a new session to issue a new link.");
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
