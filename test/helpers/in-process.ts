import { MockAgent } from "undici";
import {
  createKlarefiApp,
  DEFAULT_ADMIN_KEY,
  DEFAULT_CASE_TYPES,
  DEFAULT_TEST_API_KEY,
  FaultInjector,
  KlarefiStore,
  RateLimiter,
  RequestCounters,
  ServerClock,
} from "../../server";

/**
 * The local server's app with an in-memory store, reachable by the real
 * client through an undici MockAgent whose every reply is `app.request()`:
 * the client's whole request path, the server's whole route, no socket.
 */
export interface InProcessServer {
  app: ReturnType<typeof createKlarefiApp>;
  clock: ServerClock;
  /** Give it to `new Klarefi({ dispatcher })`; no request leaves the process. */
  dispatcher: MockAgent;
  baseUrl: string;
  apiKey: string;
  /** Requests the app answered, as `METHOD path`. */
  requests: string[];
  close(): Promise<void>;
}

export function startInProcessServer(): InProcessServer {
  const baseUrl = "http://klarefi.in-process";
  const store = KlarefiStore.open(":memory:");
  const clock = new ServerClock();
  const app = createKlarefiApp({
    store,
    clock,
    faults: new FaultInjector(),
    counters: new RequestCounters(),
    rateLimiter: new RateLimiter(),
    apiKeys: [DEFAULT_TEST_API_KEY],
    adminKey: DEFAULT_ADMIN_KEY,
    caseTypes: DEFAULT_CASE_TYPES,
    signingSecret: "in-process-signing-secret",
    publicBaseUrl: () => baseUrl,
  });
  const requests: string[] = [];
  const dispatcher = new MockAgent();
  dispatcher.disableNetConnect();
  dispatcher
    .get(baseUrl)
    .intercept({ path: () => true, method: () => true })
    .reply(async (opts) => {
      requests.push(`${opts.method} ${opts.path}`);
      const headers = new Headers();
      for (const [name, value] of Object.entries((opts.headers ?? {}) as Record<string, string>)) headers.set(name, value);
      const res = await app.request(`${baseUrl}${opts.path}`, {
        method: opts.method,
        headers,
        ...(opts.body === undefined || opts.body === null ? {} : { body: String(opts.body) }),
      });
      return { statusCode: res.status, data: await res.text(), responseOptions: { headers: Object.fromEntries(res.headers) } };
    })
    .persist();
  return {
    app,
    clock,
    dispatcher,
    baseUrl,
    apiKey: DEFAULT_TEST_API_KEY,
    requests,
    close: async () => {
      await dispatcher.close();
      store.close();
    },
  };
}
