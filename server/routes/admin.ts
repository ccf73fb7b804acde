/**
 * @module
 * The dev-only `/_admin` routes of the local server (docs/klarefi-api.md
 * section 9.3): list sessions, read counters, reset, configure faults, move
 * the clock, set the rate limit, and complete a session out of band. Authorized with the admin
 * key; never counted and never faulted.
 */
import { Hono } from "hono";
import {
  AdminClockRequest,
  type AdminClockResponse,
  type AdminCounters,
  type AdminRateLimit,
  AdminResetRequest,
  type AdminResetResponse,
  type AdminSessionList,
  AdminSessionsQuery,
} from "../admin-schemas";
import { bearerAuth } from "../auth";
import { type AppEnv, type KlarefiAppDeps, readJson, serializeContext, validationError } from "../context";
import { sessionMissing, sessionNotOpen } from "../errors";
import { FaultConfig } from "../faults";
import { RateLimitConfig, type ResolvedRateLimit } from "../rate-limit";
import { toSession } from "../serialize";
import { effectiveStatus } from "../store";

/** The `/_admin` sub-app; mount it with `app.route("/_admin", adminRoutes(deps))`. */
export function adminRoutes(deps: KlarefiAppDeps): Hono<AppEnv> {
  const admin = new Hono<AppEnv>();

  admin.use(
    "*",
    bearerAuth({
      keys: [deps.adminKey],
      missingMessage: "No admin key was provided; send it as Authorization: Bearer <admin key>.",
      invalidMessage: "The admin key provided is not valid.",
    }),
  );

  admin.get("/sessions", (c) => {
    const query = Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== ""));
    const parsed = AdminSessionsQuery.safeParse(query);
    if (!parsed.success) throw validationError(parsed.error, query);
    const ctx = serializeContext(deps);
    const body: AdminSessionList = {
      data: deps.store.listSessions(parsed.data, ctx.nowMs).map((r) => toSession(r, ctx)),
    };
    return c.json(body, 200);
  });

  // Marks an open session completed as if the applicant had submitted the hosted form,
  // without needing its signed URL. Repeating it on a completed session answers it unchanged.
  admin.post("/sessions/:id/complete", (c) => {
    const id = c.req.param("id");
    const now = deps.clock.now();
    const record = deps.store.completeSession(id, now);
    if (record === undefined) throw sessionMissing(id);
    const status = effectiveStatus(record, now);
    if (status !== "completed") throw sessionNotOpen(id, status, "only an open session can be completed.");
    return c.json(toSession(record, serializeContext(deps)), 200);
  });

  admin.get("/counters", (c) => {
    const body: AdminCounters = {
      counters: deps.counters.snapshot(),
      peak_in_flight: deps.counters.peakInFlight,
      ...deps.counters.totals,
    };
    return c.json(body, 200);
  });

  admin.post("/reset", async (c) => {
    const raw = (await readJson(c, false)) ?? {};
    const parsed = AdminResetRequest.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    deps.store.reset();
    deps.counters.clear();
    deps.rateLimiter.refill();
    if (parsed.data.faults === true) deps.faults.clear();
    if (parsed.data.clock === true) deps.clock.reset();
    if (parsed.data.rate_limit === true) deps.rateLimiter.configure(null);
    const body: AdminResetResponse = { ok: true };
    return c.json(body, 200);
  });

  admin.get("/faults", (c) => c.json(deps.faults.config, 200));
  admin.put("/faults", async (c) => {
    const raw = await readJson(c, true);
    const parsed = FaultConfig.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    return c.json(deps.faults.configure(parsed.data), 200);
  });

  // The per-API-key rate limit: PUT sets it (every key starts from a full bucket), DELETE removes it.
  admin.get("/rate-limit", (c) => c.json(rateLimitBody(deps.rateLimiter.limit), 200));
  admin.put("/rate-limit", async (c) => {
    const raw = await readJson(c, true);
    const parsed = RateLimitConfig.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    return c.json(rateLimitBody(deps.rateLimiter.configure(parsed.data)), 200);
  });
  admin.delete("/rate-limit", (c) => c.json(rateLimitBody(deps.rateLimiter.configure(null)), 200));

  admin.get("/clock", (c) => {
    const body: AdminClockResponse = { now: new Date(deps.clock.now()).toISOString() };
    return c.json(body, 200);
  });
  admin.post("/clock", async (c) => {
    const raw = await readJson(c, true);
    const parsed = AdminClockRequest.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, raw);
    const body: AdminClockResponse = { now: new Date(deps.clock.advance(parsed.data.advance_seconds)).toISOString() };
    return c.json(body, 200);
  });

  return admin;
}

function rateLimitBody(limit: ResolvedRateLimit | null): AdminRateLimit {
  return { rate_limit: limit };
}
