import { MockAgent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  Klarefi,
  KlarefiConnectionError,
  KlarefiResponseValidationError,
  KlarefiValidationError,
} from "../../client";
import { Semaphore } from "../../client/transport";

/**
 * Answers the real local server never gives (malformed bodies, broken
 * sockets) through the client's `dispatcher` option and undici's MockAgent.
 * Everything the server can produce is tested against it in the other files.
 */

const ORIGIN = "http://klarefi.test";
const KEY = "sk_test_klarefi_transport_0123456789";

const session = {
  object: "intake_session",
  session_id: "ses_1",
  case_id: "ses_1",
  signed_url: "http://klarefi.test/i/ses_1?exp=1&sig=aa",
  status: "open",
  case_type_id: "motor_claim",
  idempotency_key: "k1",
  external_case_id: "claim_1",
  external_applicant_id: "app_1",
  return_url: null,
  locale: null,
  trace_id: null,
  expires_at: "2030-01-01T00:00:00Z",
  created_at: "2029-12-01T00:00:00Z",
  revoked_at: null,
};

const createBody = {
  case_type_id: "motor_claim",
  idempotency_key: "k1",
  external_case_id: "claim_1",
  external_applicant_id: "app_1",
};

let agent: MockAgent | undefined;
function client(extra: ConstructorParameters<typeof Klarefi>[0] = {}) {
  const mock = new MockAgent();
  mock.disableNetConnect();
  agent = mock;
  return new Klarefi({ apiKey: KEY, baseUrl: ORIGIN, dispatcher: mock, retry: { initialDelayMs: 1, maxDelayMs: 2 }, ...extra });
}

afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

describe("response validation", () => {
  it("names the missing field, the status and the request id", async () => {
    const klarefi = client();
    const { signed_url: _dropped, ...withoutUrl } = session;
    agent!.get(ORIGIN).intercept({ path: "/api/v1/sessions", method: "POST" }).reply(201, withoutUrl, { headers: { "request-id": "req_1" } });
    const error = await klarefi.sessions.create(createBody).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlarefiResponseValidationError);
    expect((error as Error).message).toBe('Creating intake session failed: the API answered 201 but field "signed_url" is missing (request req_1)');
  });

  it("names a field whose value does not match, without echoing the value", async () => {
    const klarefi = client();
    agent!
      .get(ORIGIN)
      .intercept({ path: "/api/v1/sessions/ses_1", method: "GET" })
      .reply(200, { ...session, status: "exploded" }, { headers: { "request-id": "req_2" } });
    const error = (await klarefi.sessions.retrieve("ses_1").catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(KlarefiResponseValidationError);
    expect(error.message).toMatch(/^Retrieving intake session ses_1 failed: the API answered 200 but field "status" is invalid \(.*\) \(request req_2\)$/);
    expect(error.message).not.toContain("exploded");
  });

  it("refuses a 2xx body that is not JSON", async () => {
    const klarefi = client();
    agent!.get(ORIGIN).intercept({ path: "/api/v1/cases/ses_1", method: "GET" }).reply(200, "<html>", { headers: { "request-id": "req_3" } });
    await expect(klarefi.cases.retrieve("ses_1")).rejects.toThrow(
      "Retrieving case ses_1 failed: the API answered 200 but the body is not JSON (request req_3)",
    );
  });
});

describe("requests as sent", () => {
  it("sends the bearer key, JSON, the trace id header and the body unchanged", async () => {
    const klarefi = client({ traceId: "trace_client" });
    const seen: Array<{ headers: Record<string, string>; body: string }> = [];
    agent!
      .get(ORIGIN)
      .intercept({ path: "/api/v1/sessions", method: "POST" })
      .reply((opts) => {
        seen.push({ headers: opts.headers as Record<string, string>, body: String(opts.body) });
        return { statusCode: 201, data: session };
      });
    await klarefi.sessions.create({ ...createBody, trace_id: "trace_body" });
    expect(seen).toHaveLength(1);
    const sent = seen[0]!;
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sent.headers["content-type"]).toBe("application/json");
    expect(sent.headers["klarefi-trace-id"]).toBe("trace_body");
    expect(JSON.parse(sent.body)).toEqual({ ...createBody, trace_id: "trace_body" });
  });

  it.each([[""], ["a/b"], [".."], ["ses\n1"]])("refuses the path id %j before sending anything", async (id) => {
    const klarefi = client();
    for (const call of [() => klarefi.sessions.retrieve(id), () => klarefi.sessions.revoke(id), () => klarefi.cases.retrieve(id)]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KlarefiValidationError);
      expect(error).toMatchObject({ param: "id", status: undefined });
    }
  });

  it("refuses a body that breaks the contract before sending, naming the field", async () => {
    const klarefi = client();
    const error = await klarefi.sessions
      .create({ ...createBody, return_url: "ftp://claims.example.com" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlarefiValidationError);
    expect(error).toMatchObject({ param: "return_url" });
    expect((error as Error).message).toMatch(/^Creating intake session failed: return_url must be an absolute https:\/\/ URL/);
  });

  it("turns a broken socket into a connection error after the retries", async () => {
    const klarefi = client({ maxRetries: 2 });
    const failing = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" });
    agent!.get(ORIGIN).intercept({ path: "/api/v1/sessions/ses_1", method: "GET" }).replyWithError(failing).times(3);
    const error = (await klarefi.sessions.retrieve("ses_1").catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(KlarefiConnectionError);
    expect(error.message).toBe(
      "Retrieving intake session ses_1 failed: could not reach http://klarefi.test (UND_ERR_SOCKET) (3 attempts); check the baseUrl option and that the API is up",
    );
    expect(agent!.pendingInterceptors()).toHaveLength(0);
  });

  it.each([
    ["ECONNREFUSED", "refused"],
    ["ENOTFOUND", "dns"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "tls"],
  ])("tries a base URL that answers %s once, whatever the retry budget, and names where the URL came from", async (code, failure) => {
    const klarefi = client({ maxRetries: 6, baseUrlFrom: "stack config klarefi:baseUrl" });
    const cause = Object.assign(new Error(`connect ${code} 127.0.0.1:4011`), { code });
    agent!.get(ORIGIN).intercept({ path: "/api/v1/sessions/ses_1", method: "GET" }).replyWithError(cause);
    // A second attempt would get this answer and succeed.
    agent!.get(ORIGIN).intercept({ path: "/api/v1/sessions/ses_1", method: "GET" }).reply(200, session);
    const error = (await klarefi.sessions.retrieve("ses_1").catch((e: unknown) => e)) as KlarefiConnectionError;
    expect(error).toBeInstanceOf(KlarefiConnectionError);
    expect(error.failure).toBe(failure);
    expect(error.message).toBe(
      `Retrieving intake session ses_1 failed: could not reach http://klarefi.test (${code}) (1 attempt); check stack config klarefi:baseUrl and that the API is up`,
    );
    expect(agent!.pendingInterceptors()).toHaveLength(1);
  });

  it("still retries a reset connection up to the budget", async () => {
    const klarefi = client({ maxRetries: 6 });
    const cause = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    agent!.get(ORIGIN).intercept({ path: "/api/v1/sessions/ses_1", method: "GET" }).replyWithError(cause).times(6);
    agent!.get(ORIGIN).intercept({ path: "/api/v1/sessions/ses_1", method: "GET" }).reply(200, session);
    expect((await klarefi.sessions.retrieve("ses_1")).session_id).toBe("ses_1");
  });
});

describe("Semaphore", () => {
  it("holds back the holder over the limit until a slot is released, first come first served", async () => {
    const semaphore = new Semaphore(2);
    const order: string[] = [];
    const a = await semaphore.acquire();
    const b = await semaphore.acquire();
    const c = semaphore.acquire().then((release) => (order.push("c"), release));
    const d = semaphore.acquire().then((release) => (order.push("d"), release));
    await flush();
    expect(order).toEqual([]);
    expect(semaphore.held).toBe(2);
    a();
    a(); // a second release of the same slot changes nothing
    await flush();
    expect(order).toEqual(["c"]);
    b();
    await flush();
    expect(order).toEqual(["c", "d"]);
    (await c)();
    (await d)();
    expect(semaphore.held).toBe(0);
  });
});

async function flush() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
