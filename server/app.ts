/**
 * @module
 * The local Klarefi server as a Hono app: the `/api/v1` contract of
 * docs/klarefi-api.md, the hosted intake pages under `/i/`, and the dev-only
 * `/_admin/*` endpoints, each a route module under `server/routes/`, joined
 * here with the middleware and error handling they all share.
 */
import { Hono } from "hono";
import { TraceId } from "../contract/schemas";
import { type AppEnv, errorResponse, type KlarefiAppDeps, setTrace } from "./context";
import { ApiError, truncate } from "./errors";
import { newRequestId } from "./ids";
import { adminRoutes } from "./routes/admin";
import { apiRoutes } from "./routes/api";
import { hostedRoutes } from "./routes/hosted";

export type { AppEnv, KlarefiAppDeps } from "./context";

/**
 * Builds the app from its dependencies; it listens nowhere (`startKlarefiServer`
 * does), so tests can drive it in process with `app.request()`.
 */
export function createKlarefiApp(deps: KlarefiAppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // Request id and trace id on every answer, refusals and hosted pages included.
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

  app.route("/api/v1", apiRoutes(deps));
  app.route("/i", hostedRoutes(deps));
  app.route("/_admin", adminRoutes(deps));
  app.get("/healthz", (c) => c.json({ status: "ok" }, 200));

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
