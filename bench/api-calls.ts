/**
 * @module
 * API calls per engine operation, read from the request counters of the
 * in-process local server (the same counters `GET /_admin/counters` serves).
 * The bench reads them directly: the server runs in the bench's own process.
 */
import { API_ROUTES, type ApiCalls, apiCallsOf, callsSince, type RunningKlarefiServer } from "../server";

export { type ApiCalls, callsSince };

/** Every `/api/v1` call the server has answered so far, by route and status. */
export function apiCalls(server: RunningKlarefiServer): ApiCalls {
  return apiCallsOf(server.counters.snapshot());
}

/** Runs `fn` and returns its value with the API calls made meanwhile. */
export async function countingCalls<T>(server: RunningKlarefiServer, fn: () => Promise<T>): Promise<[T, ApiCalls]> {
  const before = apiCalls(server);
  const value = await fn();
  return [value, callsSince(before, apiCalls(server))];
}

/** All calls, whatever the route. */
export function totalCalls(calls: ApiCalls): number {
  return Object.values(calls).reduce((sum, n) => sum + n, 0);
}

/** Calls to one route (any status), e.g. `callsTo(calls, API_ROUTES.createSession)`. */
export function callsTo(calls: ApiCalls, route: (typeof API_ROUTES)[keyof typeof API_ROUTES]): number {
  let n = 0;
  for (const [key, count] of Object.entries(calls)) if (key.startsWith(`${route} `)) n += count;
  return n;
}

/** `"3 × POST /api/v1/sessions 201, 1 × …"`, or `"none"`. */
export function describeCalls(calls: ApiCalls): string {
  return Object.entries(calls).map(([key, n]) => `${n} × ${key}`).join(", ") || "none";
}
