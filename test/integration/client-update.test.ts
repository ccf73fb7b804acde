import { MockAgent } from "undici";
import { afterAll, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { KlarefiConflictError, KlarefiNotFoundError, KlarefiValidationError } from "../../client/errors";
import { Klarefi } from "../../client/klarefi";
import type { Session } from "../../contract/schemas";
import { sessionBody, useTestServer } from "../helpers/server";

/** `sessions.update(id, { expires_at })`: PATCH /api/v1/sessions/{id}, against the local server. */

const DAY_MS = 86_400_000;
const inDays = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString().replace(/\.\d{3}Z$/, "Z");

const server = useTestServer({ dbPath: ":memory:" });
let klarefi: Klarefi;

afterAll(async () => {
  await klarefi?.close();
});
beforeEach(async () => {
  await klarefi?.close();
  klarefi = new Klarefi({ apiKey: server.apiKey, baseUrl: server.url, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
});

function patchCalls(counters: { route: string; count: number }[]): number {
  return counters.filter((c) => c.route === "PATCH /api/v1/sessions/{id}").reduce((n, c) => n + c.count, 0);
}

describe("sessions.update", () => {
  it("moves an open session's expiry and keeps its id and signed URL, and the link still opens", async () => {
    const created = await klarefi.sessions.create(sessionBody({ expires_at: inDays(10) }));
    const expiresAt = inDays(40);
    const updated = await klarefi.sessions.update(created.session_id, { expires_at: expiresAt });
    expect(updated).toMatchObject({ session_id: created.session_id, signed_url: created.signed_url, status: "open", expires_at: expiresAt });
    expect((await klarefi.sessions.retrieve(created.session_id)).expires_at).toBe(expiresAt);
    const page = await fetch(created.signed_url);
    expect(page.status).toBe(200);
    await page.text();
  });

  it("says which session was not found, in the house style", async () => {
    const error = await klarefi.sessions.update("ses_nope", { expires_at: inDays(5) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlarefiNotFoundError);
    expect((error as Error).message).toMatch(/^Updating intake session ses_nope failed: 404 .*\(request req_\w+\)$/);
  });

  it("refuses a revoked session's expiry with the API's reason and does not retry it", async () => {
    const created = await klarefi.sessions.create(sessionBody());
    await klarefi.sessions.revoke(created.session_id);
    const error = await klarefi.sessions.update(created.session_id, { expires_at: inDays(5) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlarefiConflictError);
    expect((error as KlarefiConflictError).code).toBe("session_not_open");
    expect((error as Error).message).toMatch(new RegExp(`^Updating intake session ${created.session_id} failed: 409 .*revoked`));
    expect(patchCalls(await server.admin.counters())).toBe(1);
  });

  it("checks the new expiry against the contract before sending", async () => {
    const created = await klarefi.sessions.create(sessionBody());
    const error = await klarefi.sessions.update(created.session_id, { expires_at: "next tuesday" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlarefiValidationError);
    expect((error as Error).message).toBe(
      `Updating intake session ${created.session_id} failed: expires_at must be an RFC 3339 timestamp such as 2027-03-31T00:00:00Z (checked before sending)`,
    );
    expect(patchCalls(await server.admin.counters())).toBe(0);
  });

  it("relays the server's refusal of an expiry in the past", async () => {
    const created = await klarefi.sessions.create(sessionBody());
    const error = await klarefi.sessions.update(created.session_id, { expires_at: "2020-01-01T00:00:00Z" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlarefiValidationError);
    expect((error as Error).message).toContain("422 expires_at 2020-01-01T00:00:00Z is in the past");
  });
});

describe("sessions.update retries", () => {
  it("is retried after a 503 like the other idempotent calls, with the same body", async () => {
    const agent = new MockAgent();
    onTestFinished(() => agent.close());
    agent.disableNetConnect();
    const base = "http://klarefi.test";
    const expiresAt = inDays(20);
    const session: Session = {
      object: "intake_session",
      session_id: "ses_retry",
      case_id: "ses_retry",
      signed_url: `${base}/i/ses_retry?exp=1&sig=00`,
      status: "open",
      case_type_id: "motor_claim",
      idempotency_key: "k",
      external_case_id: "c",
      external_applicant_id: "a",
      return_url: null,
      locale: null,
      trace_id: null,
      expires_at: expiresAt,
      created_at: "2026-01-01T00:00:00Z",
      revoked_at: null,
    };
    const bodies: string[] = [];
    const pool = agent.get(base);
    pool.intercept({ path: "/api/v1/sessions/ses_retry", method: "PATCH" }).reply((opts) => {
      bodies.push(String(opts.body));
      return { statusCode: 503, data: { error: { type: "api_error", code: "service_unavailable", message: "busy", request_id: "req_1" } } };
    });
    pool.intercept({ path: "/api/v1/sessions/ses_retry", method: "PATCH" }).reply((opts) => {
      bodies.push(String(opts.body));
      return { statusCode: 200, data: session };
    });
    const client = new Klarefi({ apiKey: "sk_test_update_retry_0123", baseUrl: base, dispatcher: agent, retry: { initialDelayMs: 1, maxDelayMs: 2 } });
    onTestFinished(() => client.close());
    expect(await client.sessions.update("ses_retry", { expires_at: expiresAt })).toEqual(session);
    expect(bodies).toEqual([JSON.stringify({ expires_at: expiresAt }), JSON.stringify({ expires_at: expiresAt })]);
  });
});
