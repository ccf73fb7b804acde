import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetch, type RequestInit, type Response } from "undici";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type CreateSessionRequest, Session } from "../../contract/schemas";
import {
  AdminClockResponse,
  AdminCounters,
  type AdminCounter,
  AdminRateLimit,
  type ApiCalls,
  apiCallsOf,
  AdminSessionList,
  type AdminSessionsQuery,
  apiKeyScope,
  FaultConfig,
  type KlarefiServerOptions,
  type ResolvedFaultConfig,
  type RunningKlarefiServer,
  startKlarefiServer,
} from "../../server";
import { waitFor } from "./wait";

/** The seed document's example request, verbatim. */
export const SEED_EXAMPLE_BODY = {
  case_type_id: "motor_claim",
  idempotency_key: "session_claim_48392",
  external_case_id: "claim_48392",
  external_applicant_id: "applicant_789",
  return_url: "https://claims.example.com/claim_48392",
  locale: "nl",
} as const satisfies CreateSessionRequest;

/** Typed calls to the dev-only `/_admin/*` endpoints of a running server. */
export interface AdminClient {
  counters(): Promise<AdminCounter[]>;
  /** `/api/v1` calls served since the last reset, by `"<route template> <status>"`; see `callsSince`. */
  apiCalls(): Promise<ApiCalls>;
  /** Most /api/v1 requests served at once since the last reset. */
  peakInFlight(): Promise<number>;
  sessions(filter?: AdminSessionsQuery): Promise<Session[]>;
  /** Marks an open session completed as if the applicant had submitted (`POST /_admin/sessions/{id}/complete`). */
  completeSession(sessionId: string): Promise<Session>;
  faults(): Promise<ResolvedFaultConfig>;
  setFaults(config: FaultConfig): Promise<ResolvedFaultConfig>;
  advanceClock(seconds: number): Promise<string>;
  reset(options?: { faults?: boolean; clock?: boolean; rate_limit?: boolean }): Promise<void>;
  /** `/api/v1` requests since the last reset: all of them, those answered 429, those the rate limit refused. */
  totals(): Promise<{ requests_total: number; requests_429: number; rate_limited: number }>;
  /** The rate limit in force (`GET /_admin/rate-limit`), null when none. */
  rateLimit(): Promise<AdminRateLimit["rate_limit"]>;
  /** Sets the rate limit (`PUT /_admin/rate-limit`), or removes it with null (`DELETE`). */
  setRateLimit(limit: { rps: number; burst?: number; headers?: boolean } | null): Promise<AdminRateLimit["rate_limit"]>;
}

export interface TestServer extends RunningKlarefiServer {
  /** The first accepted API key. */
  apiKey: string;
  admin: AdminClient;
  /** fetch against the server with `Authorization: Bearer <apiKey>` (unless the init sets its own). */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** POST /api/v1/sessions with a JSON body. */
  createSession(body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Closes the server and removes its temporary database folder. */
  stop(): Promise<void>;
}

export { type ApiCalls, apiCallsOf, callsSince } from "../../server";

/**
 * Waits until a create holds `idempotencyKey` on the server (its record is
 * in flight), so a test can send a duplicate while the first is known to be
 * running instead of sleeping for a head start. Bounded by count and time.
 */
export async function waitForHeldKey(server: TestServer, idempotencyKey: string, apiKey: string = server.apiKey): Promise<void> {
  const scope = apiKeyScope(apiKey);
  await waitFor(`a create to hold the idempotency key "${idempotencyKey}"`, () =>
    server.store.idempotencyState(scope, idempotencyKey) === "in_flight" ? true : undefined,
  );
}

let counter = 0;

/** A request body like the seed example, with a fresh idempotency key. */
export function sessionBody(overrides: Partial<CreateSessionRequest> = {}): CreateSessionRequest {
  counter += 1;
  return { ...SEED_EXAMPLE_BODY, idempotency_key: `test_${process.pid}_${Date.now()}_${counter}`, ...overrides };
}

/**
 * Starts the local server for a test file: port 0 on 127.0.0.1, a database
 * in a fresh temporary folder (unless `dbPath` is given; `:memory:` allowed),
 * and no internal-error noise. Call `stop()` in afterAll.
 */
export async function startTestServer(options: KlarefiServerOptions = {}): Promise<TestServer> {
  const tempDir = options.dbPath === undefined ? mkdtempSync(join(tmpdir(), "klarefi-test-")) : undefined;
  const dbPath = options.dbPath ?? join(tempDir ?? "", "klarefi.db");
  const server = await startKlarefiServer({ onInternalError: () => {}, ...options, port: options.port ?? 0, dbPath });
  const apiKey = server.apiKeys[0] ?? "";

  const api = (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers as Record<string, string> | undefined);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${apiKey}`);
    return fetch(`${server.url}${path}`, { ...init, headers: Object.fromEntries(headers) });
  };

  const adminFetch = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.adminKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };

  const admin: AdminClient = {
    counters: async () => AdminCounters.parse(await adminFetch("GET", "/_admin/counters")).counters,
    apiCalls: async () => apiCallsOf(AdminCounters.parse(await adminFetch("GET", "/_admin/counters")).counters),
    peakInFlight: async () => AdminCounters.parse(await adminFetch("GET", "/_admin/counters")).peak_in_flight,
    sessions: async (filter = {}) => {
      const query = new URLSearchParams(
        Object.entries(filter).filter((e): e is [string, string] => typeof e[1] === "string"),
      ).toString();
      return AdminSessionList.parse(await adminFetch("GET", `/_admin/sessions${query === "" ? "" : `?${query}`}`)).data;
    },
    completeSession: async (sessionId) =>
      Session.parse(await adminFetch("POST", `/_admin/sessions/${encodeURIComponent(sessionId)}/complete`)),
    faults: async () => (await adminFetch("GET", "/_admin/faults")) as ResolvedFaultConfig,
    setFaults: async (config) => (await adminFetch("PUT", "/_admin/faults", FaultConfig.parse(config))) as ResolvedFaultConfig,
    advanceClock: async (seconds) =>
      AdminClockResponse.parse(await adminFetch("POST", "/_admin/clock", { advance_seconds: seconds })).now,
    reset: async (opts = {}) => {
      await adminFetch("POST", "/_admin/reset", opts);
    },
    totals: async () => {
      const { requests_total, requests_429, rate_limited } = AdminCounters.parse(await adminFetch("GET", "/_admin/counters"));
      return { requests_total, requests_429, rate_limited };
    },
    rateLimit: async () => AdminRateLimit.parse(await adminFetch("GET", "/_admin/rate-limit")).rate_limit,
    setRateLimit: async (limit) =>
      AdminRateLimit.parse(
        limit === null ? await adminFetch("DELETE", "/_admin/rate-limit") : await adminFetch("PUT", "/_admin/rate-limit", limit),
      ).rate_limit,
  };

  return {
    ...server,
    apiKey,
    admin,
    api,
    createSession: (body, headers = {}) =>
      api("/api/v1/sessions", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    stop: async () => {
      await server.close();
      if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

export interface UseTestServerOptions extends KlarefiServerOptions {
  /**
   * Before each test: `true` (the default) empties the store and counters and
   * clears faults and the moved clock, so that every test starts on a fresh
   * server on real time; `false` leaves the server as the last test left it.
   */
  resetBeforeEach?: boolean;
}

/**
 * The local server of a test file: started once before its first test
 * (`startTestServer`), stopped after its last, and reset before each test
 * (see `resetBeforeEach`). Call it at the top level of the file; the handle
 * it returns stands for the running server inside tests and hooks.
 */
export function useTestServer(options: UseTestServerOptions = {}): TestServer {
  const { resetBeforeEach = true, ...serverOptions } = options;
  let running: TestServer | undefined;
  beforeAll(async () => {
    running = await startTestServer(serverOptions);
  });
  afterAll(async () => {
    await running?.stop();
    running = undefined;
  });
  if (resetBeforeEach) {
    beforeEach(async () => {
      await running?.admin.reset({ faults: true, clock: true });
    });
  }
  return new Proxy({} as TestServer, {
    get(_target, name) {
      if (running === undefined) {
        throw new Error(`The test server is used (.${String(name)}) outside the tests of its file: useTestServer starts it in beforeAll and stops it in afterAll.`);
      }
      return Reflect.get(running, name) as unknown;
    },
    has: (_target, name) => running !== undefined && name in running,
    ownKeys: () => (running === undefined ? [] : Reflect.ownKeys(running)),
    getOwnPropertyDescriptor: (_target, name) => (running === undefined ? undefined : { ...Reflect.getOwnPropertyDescriptor(running, name), configurable: true }),
  });
}

/** A loopback port with nothing listening on it: connecting is refused at once. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
