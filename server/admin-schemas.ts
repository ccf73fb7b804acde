/**
 * @module
 * Payloads of the dev-only `/_admin/*` endpoints of the local server, so
 * tests and tools parse them the same way the server produces them.
 */
import { z } from "zod";
import { Session, SessionStatus } from "../contract/schemas";

/** Query of `GET /_admin/sessions`: every filter is optional and they combine with AND. */
export const AdminSessionsQuery = z.strictObject({
  status: SessionStatus.optional(),
  case_type_id: z.string().min(1).optional(),
  external_case_id: z.string().min(1).optional(),
  external_applicant_id: z.string().min(1).optional(),
});
export type AdminSessionsQuery = z.infer<typeof AdminSessionsQuery>;

/** Answer of `GET /_admin/sessions`, oldest first. */
export const AdminSessionList = z.object({ data: z.array(Session) });
export type AdminSessionList = z.infer<typeof AdminSessionList>;

/** One counter: requests to a route template that got a status. `dropped` marks commit-then-drop answers that were never sent. */
export const AdminCounter = z.object({
  route: z.string(),
  status: z.int(),
  count: z.int().min(0),
  dropped: z.literal(true).optional(),
});
export type AdminCounter = z.infer<typeof AdminCounter>;

/** Answer of `GET /_admin/counters`. */
export const AdminCounters = z.object({
  counters: z.array(AdminCounter),
  /** Most `/api/v1` requests being served at once since start or the last reset. */
  peak_in_flight: z.number().int().nonnegative(),
  /** Every `/api/v1` request since start or the last reset, whatever its answer. */
  requests_total: z.number().int().nonnegative(),
  /** Those answered 429, by the rate limit or by an injected fault. */
  requests_429: z.number().int().nonnegative(),
  /** Those refused by the rate limit (429 `rate_limited` from the token bucket, not injected). */
  rate_limited: z.number().int().nonnegative(),
});
export type AdminCounters = z.infer<typeof AdminCounters>;

/**
 * Body of `POST /_admin/reset` (optional): `faults` also clears the fault
 * config, `clock` returns to real time, `rate_limit` removes the rate limit
 * (without it the limit stays and every bucket is filled again).
 */
export const AdminResetRequest = z.strictObject({
  faults: z.boolean().optional(),
  clock: z.boolean().optional(),
  rate_limit: z.boolean().optional(),
});
export type AdminResetRequest = z.infer<typeof AdminResetRequest>;

/** Answer of `POST /_admin/reset`. */
export const AdminResetResponse = z.object({ ok: z.literal(true) });
export type AdminResetResponse = z.infer<typeof AdminResetResponse>;

/** Body of `POST /_admin/clock`. */
export const AdminClockRequest = z.strictObject({
  advance_seconds: z
    .number({ error: "advance_seconds must be a number" })
    .min(0, { error: "advance_seconds must be at least 0; the clock only moves forward" })
    .max(10 * 365 * 24 * 3600, { error: "advance_seconds must be at most 315360000 (ten years)" }),
});
export type AdminClockRequest = z.infer<typeof AdminClockRequest>;

/** Answer of `GET` and `POST /_admin/clock`: the server's time, RFC 3339. */
export const AdminClockResponse = z.object({ now: z.string() });
export type AdminClockResponse = z.infer<typeof AdminClockResponse>;

/** Answer of `GET` and `PUT /_admin/rate-limit`: the limit in force, null when requests are not limited. */
export const AdminRateLimit = z.object({
  rate_limit: z.object({ rps: z.int().min(1), burst: z.int().min(1), headers: z.boolean() }).nullable(),
});
export type AdminRateLimit = z.infer<typeof AdminRateLimit>;
