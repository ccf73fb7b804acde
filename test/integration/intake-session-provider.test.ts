import { Agent, MockAgent } from "undici";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { DEFAULT_MAX_CONCURRENT_REQUESTS, IntakeSessionProviderImpl, settingsFromConfig } from "../../provider/intake-session";
import { useTestServer } from "../helpers/server";

// Provider methods called directly, against the local server: no engine here.
// The engine-level guarantees are in test/e2e/.

const server = useTestServer();

let scopeCounter = 0;
function inputs(overrides: Record<string, unknown> = {}) {
  scopeCounter += 1;
  return {
    caseTypeId: "motor_claim",
    externalCaseId: "claim_48392",
    externalApplicantId: "applicant_789",
    returnUrl: "https://claims.example.com/claim_48392",
    locale: "nl",
    keyScope: `unit/test/claim-${scopeCounter}`,
    ...overrides,
  };
}

function configured(extra: Record<string, string> = {}): IntakeSessionProviderImpl {
  const impl = new IntakeSessionProviderImpl();
  void impl.connection.configureFrom(configOf({ "klarefi:apiKey": server.apiKey, "klarefi:baseUrl": server.url, ...extra }));
  return impl;
}

function configOf(values: Record<string, string>) {
  return { get: (key: string) => values[key] };
}

describe("IntakeSession provider methods", () => {
  it("creates an open session even when the first call arrives while configure is still running", async () => {
    const impl = new IntakeSessionProviderImpl();
    const configuring = impl.connection.configureFrom(configOf({ "klarefi:apiKey": server.apiKey, "klarefi:baseUrl": server.url }));
    const created = impl.create(inputs()); // not awaiting configure first, as the engine may do
    const { id, outs } = await created;
    await configuring;
    expect(id).toMatch(/^ses_/);
    expect(outs).toMatchObject({ sessionId: id, status: "open", request: { externalCaseId: "claim_48392", locale: "nl" } });
    const onServer = (await server.admin.sessions({ external_case_id: "claim_48392" })).find((s) => s.session_id === id);
    expect(onServer).toMatchObject({ locale: "nl", status: "open" });
    expect(outs.signedUrl).toContain(`/i/${id}`);
  });

  it("lands on the same session when create runs twice for one resource", async () => {
    const impl = configured();
    const args = inputs();
    const first = await impl.create(args);
    const second = await impl.create(args);
    expect(second.id).toBe(first.id);
    expect(await server.admin.sessions({ external_case_id: "claim_48392" })).toHaveLength(1);
  });

  it("does not adopt a revoked session: the next key generation makes a fresh one", async () => {
    const impl = configured();
    const args = inputs();
    const first = await impl.create(args);
    await impl.delete(first.id);
    const again = await impl.create(args);
    expect(again.id).not.toBe(first.id);
    expect(again.outs.status).toBe("open");
    expect(again.outs.idempotencyKey).toBe(`${first.outs.idempotencyKey}~2`);
    // and a third run walks the same keys to the same open session
    expect((await impl.create(args)).id).toBe(again.id);
  });

  it("does not adopt an expired session", async () => {
    const impl = configured();
    const args = inputs();
    const first = await impl.create(args);
    await server.admin.advanceClock(31 * 86_400);
    const again = await impl.create(args);
    expect(again.id).not.toBe(first.id);
    expect(again.outs.status).toBe("open");
  });

  it("honours a user-supplied idempotency key, with the same guarantees", async () => {
    const impl = configured();
    const args = inputs({ idempotencyKey: "session_claim_48392" });
    const first = await impl.create(args);
    expect(first.outs.idempotencyKey).toBe("session_claim_48392");
    expect((await server.admin.sessions()).map((s) => s.idempotency_key)).toEqual(["session_claim_48392"]);
    expect((await impl.create(args)).id).toBe(first.id);
    await impl.delete(first.id);
    const fresh = await impl.create(args);
    expect(fresh.id).not.toBe(first.id);
    expect(fresh.outs.idempotencyKey).toBe("session_claim_48392~2");
  });

  it("moves past a user key that the API already saw with another body", async () => {
    const impl = configured();
    const first = await impl.create(inputs({ idempotencyKey: "shared_key" }));
    const other = await impl.create(inputs({ idempotencyKey: "shared_key", locale: "fr" }));
    expect(other.id).not.toBe(first.id);
    expect((await server.admin.sessions()).find((s) => s.session_id === other.id)?.locale).toBe("fr");
  });

  it("retries a create whose answer was lost into the same session, never a second one", async () => {
    const args = inputs();
    const fragile = configured({ "klarefi:maxRetries": "0" });
    await server.admin.setFaults({ seed: 7, commitThenDrop: 1 });
    await expect(fragile.create(args)).rejects.toThrow(/Creating intake session failed/);
    expect(await server.admin.sessions({ status: "open" })).toHaveLength(1); // committed, answer lost

    await server.admin.setFaults({ commitThenDrop: 0 });
    const retried = await configured().create(args);
    const open = await server.admin.sessions({ status: "open" });
    expect(open.map((s) => s.session_id)).toEqual([retried.id]);
  });

  it("reads drift: a revoked session shows its status, a gone one leaves state", async () => {
    const impl = configured();
    const { id, outs } = await impl.create(inputs());
    await impl.delete(id);
    const read = await impl.read(id, { ...outs });
    expect(read.id).toBe(id);
    expect(read.props.status).toBe("revoked");
    expect(read.props.request).toEqual(outs.request);
    expect(await impl.read("ses_doesnotexist000000000000", {})).toEqual({ id: "", props: {} });
  });

  it("counts deleting a revoked, expired or unknown session as done", async () => {
    const impl = configured();
    const { id } = await impl.create(inputs());
    await impl.delete(id);
    await expect(impl.delete(id)).resolves.toBeUndefined();
    await expect(impl.delete("ses_doesnotexist000000000000")).resolves.toBeUndefined();
    const other = await impl.create(inputs());
    await server.admin.advanceClock(31 * 86_400);
    await expect(impl.delete(other.id)).resolves.toBeUndefined();
  });

  it("rides out injected 429s and 503s", async () => {
    const impl = configured();
    await server.admin.setFaults({ seed: 11, rate429: 0.3, rate503: 0.2, retryAfterSeconds: 0 });
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => impl.create(inputs({ externalCaseId: `claim_${n}` }))));
    expect(new Set(results.map((r) => r.id)).size).toBe(6);
    const throttled = (await server.admin.counters()).filter((c) => c.status === 429 || c.status === 503);
    expect(throttled.reduce((n, c) => n + c.count, 0)).toBeGreaterThan(0);
  });

  it("adopts an open session by id only when it matches, and never a closed one", async () => {
    const impl = configured();
    const existing = await impl.create(inputs());
    const adopted = await impl.create(inputs({ adoptSessionId: existing.id }));
    expect(adopted.id).toBe(existing.id);
    expect(adopted.outs.idempotencyKey).toBe(existing.outs.idempotencyKey);
    await expect(impl.create(inputs({ adoptSessionId: existing.id, externalApplicantId: "someone_else" }))).rejects.toThrow(
      `Cannot adopt intake session ${existing.id}: externalApplicantId is "someone_else" but the session has "applicant_789".`,
    );
    await impl.delete(existing.id);
    await expect(impl.create(inputs({ adoptSessionId: existing.id }))).rejects.toThrow(/it is revoked, and only an open session can be adopted/);
    expect(await server.admin.sessions()).toHaveLength(1);
  });

  it("reports a session the API answered with but that does not match the request as created-with-error, with its id", async () => {
    const agent = new MockAgent();
    onTestFinished(() => agent.close());
    agent.disableNetConnect();
    const base = "http://klarefi.test";
    const wrong = {
      object: "intake_session",
      session_id: "ses_mismatch",
      case_id: "ses_mismatch",
      signed_url: `${base}/i/ses_mismatch?exp=1&sig=x`,
      status: "open",
      case_type_id: "motor_claim",
      idempotency_key: "k",
      external_case_id: "someone_elses_case",
      external_applicant_id: "applicant_789",
      return_url: null,
      locale: "nl",
      trace_id: null,
      expires_at: "2027-01-01T00:00:00Z",
      created_at: "2026-11-27T00:00:00Z",
      revoked_at: null,
    };
    agent.get(base).intercept({ path: "/api/v1/sessions", method: "POST" }).reply(201, wrong, { headers: { "content-type": "application/json", "request-id": "req_1" } });
    const impl = new IntakeSessionProviderImpl();
    await impl.connection.configure({ apiKey: server.apiKey, baseUrl: base, dispatcher: agent, maxRetries: 0 });
    const error = (await impl.create(inputs()).catch((e: unknown) => e)) as Error & { id?: string; properties?: Record<string, unknown>; reasons?: string[] };
    expect(error.message).toBe(
      'Intake session ses_mismatch was created but does not match the request: external_case_id is "someone_elses_case", not the requested "claim_48392".',
    );
    expect(error.id).toBe("ses_mismatch");
    expect(error.properties).toMatchObject({ sessionId: "ses_mismatch", status: "open" });
    expect(error.reasons).toHaveLength(1);
  });

  it("never puts the API key into an error message", async () => {
    const impl = new IntakeSessionProviderImpl();
    await impl.connection.configure({ apiKey: "sk_test_wrongwrongwrong", baseUrl: server.url, maxRetries: 0 });
    const error = await impl.create(inputs()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toMatch(/401/);
    expect(String((error as Error).message)).not.toContain("sk_test_wrongwrongwrong");
  });

  it("reads credentials from stack config first and the environment second", () => {
    onTestFinished(() => {
      vi.unstubAllEnvs();
    });
    vi.stubEnv("KLAREFI_API_KEY", "sk_test_fromenvironment");
    vi.stubEnv("KLAREFI_BASE_URL", "http://127.0.0.1:1");
    const settings = settingsFromConfig(configOf({ "klarefi:apiKey": "sk_test_fromconfig" }));
    expect({ apiKey: settings.apiKey, baseUrl: settings.baseUrl.origin }).toEqual({
      apiKey: "sk_test_fromconfig",
      baseUrl: "http://127.0.0.1:1",
    });
    expect(() => settingsFromConfig(configOf({ "klarefi:maxConcurrentRequests": "many" }))).toThrow(/klarefi:maxConcurrentRequests must be a whole number/);
  });

  it("keeps at most 8 API calls in flight when klarefi:maxConcurrentRequests is not set, even over a pool of 64 connections", async () => {
    expect(DEFAULT_MAX_CONCURRENT_REQUESTS).toBe(8);
    // A pool wider than the cap: only the client's semaphore can hold the server's peak to 8.
    const wide = new Agent({ connections: 64 });
    onTestFinished(() => wide.close());
    const impl = new IntakeSessionProviderImpl();
    await impl.connection.use(settingsFromConfig(configOf({ "klarefi:apiKey": server.apiKey, "klarefi:baseUrl": server.url })), wide);
    await server.admin.setFaults({ latencyMs: 300 });
    const created = await Promise.all(Array.from({ length: 24 }, (_, n) => impl.create(inputs({ externalCaseId: `claim_cap_${n}` }))));
    await server.admin.setFaults({});
    expect(new Set(created.map((c) => c.id)).size).toBe(24);
    expect(await server.admin.peakInFlight()).toBe(8);
  });
});
