/**
 * @module
 * The local Klarefi server: the embedded default for tests and the demo.
 * `startKlarefiServer()` listens on 127.0.0.1 and serves the contract of
 * docs/klarefi-api.md.
 */
export {
  DEFAULT_ADMIN_KEY,
  DEFAULT_CASE_TYPES,
  DEFAULT_DB_PATH,
  DEFAULT_PORT,
  DEFAULT_TEST_API_KEY,
  type KlarefiServerOptions,
  type RunningKlarefiServer,
  startKlarefiServer,
} from "./server";
export { createKlarefiApp, type KlarefiAppDeps } from "./app";
export {
  AdminClockRequest,
  AdminClockResponse,
  AdminCounter,
  AdminCounters,
  AdminRateLimit,
  AdminResetRequest,
  AdminResetResponse,
  AdminSessionList,
  AdminSessionsQuery,
} from "./admin-schemas";
export { FaultConfig, FaultInjector, type FaultDecision, type ResolvedFaultConfig, decideFault, mulberry32, resolveFaultConfig } from "./faults";
export {
  fullBucket,
  RATE_LIMIT_POLICY_NAME,
  RateLimitConfig,
  rateLimitField,
  rateLimitPolicyField,
  RateLimiter,
  resolveRateLimit,
  type ResolvedRateLimit,
  type TokenBucket,
  type TokenDecision,
  takeToken,
} from "./rate-limit";
export { bodyTooLarge, checkDeclaredLength, MAX_BODY_BYTES } from "./body";
export { ServerClock, formatTimestamp } from "./clock";
export { API_ROUTES, type ApiCalls, apiCallsOf, callsSince, RequestCounters, routeTemplate } from "./counters";
export { KlarefiStore, type ExpiryUpdate, type SessionRecord, type SessionFilter, apiKeyScope, effectiveStatus, IN_FLIGHT_TIMEOUT_MS } from "./store";
export { buildSignedUrl, signLink, verifyLink } from "./signing";
export { ApiError } from "./errors";
