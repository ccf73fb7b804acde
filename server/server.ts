/**
 * @module
 * `startKlarefiServer`: the local server's options and defaults, wiring the
 * store, clock, faults and counters into the app and listening on a port.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { createAdaptorServer } from "@hono/node-server";
import { createKlarefiApp } from "./app";
import { ServerClock } from "./clock";
import { RequestCounters } from "./counters";
import { FaultConfig, FaultInjector } from "./faults";
import { RateLimitConfig, RateLimiter } from "./rate-limit";
import { KlarefiStore } from "./store";

/** The documented key the local server accepts when none are configured. A test key, not a secret. */
export const DEFAULT_TEST_API_KEY = "sk_test_klarefi_local_0000000000000000";
/** The documented key of the dev-only `/_admin/*` endpoints. */
export const DEFAULT_ADMIN_KEY = "adm_test_klarefi_local";
/** The case types the local server knows when none are configured. */
export const DEFAULT_CASE_TYPES: readonly string[] = ["motor_claim", "home_claim", "travel_claim", "hail_damage"];
/** The port `klarefi` tools expect the local server on. Tests use port 0. */
export const DEFAULT_PORT = 4010;
/** Where the database lives when no `dbPath` is given, relative to the working directory. */
export const DEFAULT_DB_PATH = ".klarefi/dev.db";

export interface KlarefiServerOptions {
  /** TCP port; 0 picks a free one. Default DEFAULT_PORT. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** SQLite file; its folder is created. `:memory:` keeps nothing. Default DEFAULT_DB_PATH. */
  dbPath?: string;
  /** Accepted API keys. Default [DEFAULT_TEST_API_KEY]. */
  apiKeys?: readonly string[];
  /** Key of the `/_admin/*` endpoints. Default DEFAULT_ADMIN_KEY. */
  adminKey?: string;
  /** Known case types. Default DEFAULT_CASE_TYPES. */
  caseTypes?: readonly string[];
  /** Overrides the signing secret persisted in the database. */
  signingSecret?: string;
  /** Fault injection from the start; `PUT /_admin/faults` changes it later. */
  faults?: FaultConfig;
  /**
   * Per-API-key rate limit of `/api/v1` from the start: `rps` requests a
   * second, bursts of `burst` (default `rps`). null or absent: no limit.
   * `PUT /_admin/rate-limit` changes it later.
   */
  rateLimit?: RateLimitConfig | null;
  /** Base of signed URLs. Default the listening URL. */
  publicBaseUrl?: string;
  /** Told about unexpected errors (answered 500). Default: one line on stderr. */
  onInternalError?: (error: unknown, requestId: string) => void;
}

export interface RunningKlarefiServer {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string;
  port: number;
  adminKey: string;
  apiKeys: string[];
  /** Base of the signed URLs the server hands out. */
  publicBaseUrl: string;
  /** Absolute database path, or `:memory:`. */
  dbPath: string;
  /** Direct access for tests: storage, clock, faults and counters of this server. */
  store: KlarefiStore;
  clock: ServerClock;
  faults: FaultInjector;
  counters: RequestCounters;
  /** The rate limit in force (`rateLimiter.limit`) and its buckets; `configure` changes it. */
  rateLimiter: RateLimiter;
  /** Stops listening, drops open connections and closes the database. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts the local Klarefi server: opens (or creates) the database, builds
 * the app and listens. Answers once the port is bound.
 */
export async function startKlarefiServer(options: KlarefiServerOptions = {}): Promise<RunningKlarefiServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_PORT;
  const apiKeys = [...(options.apiKeys ?? [DEFAULT_TEST_API_KEY])];
  const adminKey = options.adminKey ?? DEFAULT_ADMIN_KEY;
  const caseTypes = [...(options.caseTypes ?? DEFAULT_CASE_TYPES)];
  if (apiKeys.length === 0 || apiKeys.some((k) => k.trim() === "" || /\s/.test(k))) {
    throw new RangeError("apiKeys must hold at least 1 key, none empty or containing spaces.");
  }
  if (adminKey.trim() === "" || /\s/.test(adminKey)) throw new RangeError("adminKey must be non-empty and without spaces.");
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0 to 65535; got ${port}.`);
  const faultConfig = FaultConfig.safeParse(options.faults ?? {});
  if (!faultConfig.success) {
    throw new RangeError(`faults is not a valid fault configuration: ${faultConfig.error.issues[0]?.message ?? "invalid"}`);
  }

  const rateLimit = options.rateLimit === undefined || options.rateLimit === null ? null : RateLimitConfig.safeParse(options.rateLimit);
  if (rateLimit !== null && !rateLimit.success) {
    throw new RangeError(`rateLimit is not a valid rate limit: ${rateLimit.error.issues[0]?.message ?? "invalid"}.`);
  }

  const dbPath = options.dbPath === ":memory:" ? ":memory:" : resolve(options.dbPath ?? DEFAULT_DB_PATH);
  const store = KlarefiStore.open(dbPath);
  const signingSecret = options.signingSecret ?? store.signingSecret();
  const clock = new ServerClock();
  const faults = new FaultInjector(faultConfig.data);
  const counters = new RequestCounters();
  const rateLimiter = new RateLimiter(rateLimit === null ? null : rateLimit.data);
  let publicBaseUrl = trimSlash(options.publicBaseUrl ?? "");

  const app = createKlarefiApp({
    store,
    clock,
    faults,
    counters,
    rateLimiter,
    apiKeys,
    adminKey,
    caseTypes,
    signingSecret,
    publicBaseUrl: () => publicBaseUrl,
    onInternalError:
      options.onInternalError ??
      ((error, requestId) => {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : "non-error thrown";
        process.stderr.write(`klarefi local server: internal error on ${requestId}: ${reason}\n`);
      }),
  });
  // createAdaptorServer without http2/https options builds a plain node:http server.
  const server = createAdaptorServer({ fetch: app.fetch, hostname: host }) as Server;
  server.keepAliveTimeout = 30_000;

  try {
    await new Promise<void>((resolveListen, rejectListen) => {
      const onError = (error: Error) => rejectListen(error);
      server.once("error", onError);
      server.listen(port, host, () => {
        server.off("error", onError);
        resolveListen();
      });
    });
  } catch (error) {
    store.close();
    throw error;
  }

  const boundPort = (server.address() as AddressInfo).port;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const url = `http://${urlHost}:${boundPort}`;
  if (publicBaseUrl === "") publicBaseUrl = url;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: boundPort,
    adminKey,
    apiKeys,
    publicBaseUrl,
    dbPath,
    store,
    clock,
    faults,
    counters,
    rateLimiter,
    close: () => {
      closing ??= new Promise<void>((resolveClose) => {
        server.close(() => {
          store.close();
          resolveClose();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
