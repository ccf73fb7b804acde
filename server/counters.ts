/**
 * @module
 * Request counters of the local server's `/api/v1` routes, read through
 * `GET /_admin/counters`: tests use them to prove how many calls a client
 * made, with which answers, and how many it had in flight at once.
 */
import type { AdminCounter } from "./admin-schemas";

/** The `/api/v1` route templates counters are kept under. */
export const API_ROUTES = {
  createSession: "POST /api/v1/sessions",
  getSession: "GET /api/v1/sessions/{id}",
  updateSession: "PATCH /api/v1/sessions/{id}",
  revokeSession: "POST /api/v1/sessions/{id}/revoke",
  getCase: "GET /api/v1/cases/{id}",
} as const;

/** Maps a method and path to its route template; paths no route serves count as `"<METHOD> /api/v1/*"`. */
export function routeTemplate(method: string, path: string): string {
  const m = method.toUpperCase();
  if (m === "POST" && /^\/api\/v1\/sessions\/?$/.test(path)) return API_ROUTES.createSession;
  if (m === "GET" && /^\/api\/v1\/sessions\/[^/]+\/?$/.test(path)) return API_ROUTES.getSession;
  if (m === "PATCH" && /^\/api\/v1\/sessions\/[^/]+\/?$/.test(path)) return API_ROUTES.updateSession;
  if (m === "POST" && /^\/api\/v1\/sessions\/[^/]+\/revoke\/?$/.test(path)) return API_ROUTES.revokeSession;
  if (m === "GET" && /^\/api\/v1\/cases\/[^/]+\/?$/.test(path)) return API_ROUTES.getCase;
  return `${m} /api/v1/*`;
}

/** In-memory request counters by route template, status and whether the answer was dropped. */
export class RequestCounters {
  readonly #counts = new Map<string, AdminCounter>();
  #total = 0;
  #status429 = 0;
  #rateLimited = 0;
  #inFlight = 0;
  #peakInFlight = 0;

  /** A request started; the peak shows whether clients kept to their concurrency cap. */
  enter(): void {
    this.#inFlight += 1;
    if (this.#inFlight > this.#peakInFlight) this.#peakInFlight = this.#inFlight;
  }

  leave(): void {
    this.#inFlight -= 1;
  }

  /** Most requests in flight at once since start or the last clear. */
  get peakInFlight(): number {
    return this.#peakInFlight;
  }

  /** Counts one answered (or dropped) request; `rateLimited` when the rate limit refused it. */
  record(route: string, status: number, dropped = false, rateLimited = false): void {
    this.#total += 1;
    if (status === 429) this.#status429 += 1;
    if (rateLimited) this.#rateLimited += 1;
    const key = `${route}\u0000${status}\u0000${dropped ? 1 : 0}`;
    const entry = this.#counts.get(key);
    if (entry !== undefined) entry.count += 1;
    else this.#counts.set(key, dropped ? { route, status, count: 1, dropped: true } : { route, status, count: 1 });
  }

  /** Every counter, sorted by route, then status, dropped last. */
  snapshot(): AdminCounter[] {
    return [...this.#counts.values()]
      .map((c) => ({ ...c }))
      .sort(
        (a, b) =>
          a.route.localeCompare(b.route) || a.status - b.status || Number(a.dropped ?? false) - Number(b.dropped ?? false),
      );
  }

  /** How many requests to `route` got `status` (dropped ones included). */
  count(route: string, status: number): number {
    let n = 0;
    for (const c of this.#counts.values()) if (c.route === route && c.status === status) n += c.count;
    return n;
  }

  /**
   * Totals since start or the last clear: every `/api/v1` request, those
   * answered 429 (rate limit and injected faults), and those the rate limit
   * refused.
   */
  get totals(): { requests_total: number; requests_429: number; rate_limited: number } {
    return { requests_total: this.#total, requests_429: this.#status429, rate_limited: this.#rateLimited };
  }

  clear(): void {
    this.#total = 0;
    this.#status429 = 0;
    this.#rateLimited = 0;
    this.#counts.clear();
    this.#peakInFlight = this.#inFlight;
  }
}

/** API calls by `"<route template> <status>"`, e.g. `{ "POST /api/v1/sessions 201": 3 }`. */
export type ApiCalls = Record<string, number>;

/** Sums counters by route and status (dropped answers included: the call was made). */
export function apiCallsOf(counters: readonly { route: string; status: number; count: number }[]): ApiCalls {
  const calls: ApiCalls = {};
  for (const c of counters) {
    const key = `${c.route} ${c.status}`;
    calls[key] = (calls[key] ?? 0) + c.count;
  }
  return calls;
}

/** The calls made between two readings, without the unchanged ones: `{}` means none. */
export function callsSince(before: ApiCalls, after: ApiCalls): ApiCalls {
  const added: ApiCalls = {};
  for (const [key, n] of Object.entries(after)) {
    const delta = n - (before[key] ?? 0);
    if (delta !== 0) added[key] = delta;
  }
  for (const key of Object.keys(before)) if (!(key in after)) added[key] = -(before[key] ?? 0);
  return added;
}
