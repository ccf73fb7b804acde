import { Agent } from "undici";
import { afterAll, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { Case, Klarefi, Session } from "../../client";
import { SEED_EXAMPLE_BODY, sessionBody, useTestServer } from "../helpers/server";

const server = useTestServer({ dbPath: ":memory:" });
let klarefi: Klarefi;

afterAll(async () => {
  await klarefi?.close();
});

beforeEach(async () => {
  await klarefi?.close();
  klarefi = new Klarefi({ apiKey: server.apiKey, baseUrl: server.url, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
});

describe("sessions.create", () => {
  it("accepts the documentation's example body verbatim and returns a session with a signed URL", async () => {
    const session = await klarefi.sessions.create({
      case_type_id: "motor_claim",
      idempotency_key: "session_claim_48392",
      external_case_id: "claim_48392",
      external_applicant_id: "applicant_789",
      return_url: "https://claims.example.com/claim_48392",
      locale: "nl",
    });
    expect(Session.parse(session)).toEqual(session);
    expect(session).toMatchObject({
      object: "intake_session",
      status: "open",
      case_type_id: "motor_claim",
      idempotency_key: "session_claim_48392",
      external_case_id: "claim_48392",
      external_applicant_id: "applicant_789",
      return_url: "https://claims.example.com/claim_48392",
      locale: "nl",
      revoked_at: null,
    });
    expect(session.case_id).toBe(session.session_id);
    expect(session.signed_url.startsWith(`${server.url}/`)).toBe(true);

    // The applicant can open the link.
    const page = await fetch(session.signed_url);
    expect(page.status).toBe(200);
    await page.text();
  });

  it("answers a repeated create with the same idempotency key with the same session, marked as a replay", async () => {
    const body = sessionBody({ external_case_id: "claim_replay" });
    const first = await klarefi.sessions.createWithResponse(body);
    const second = await klarefi.sessions.createWithResponse(body);
    expect(first.replayed).toBe(false);
    expect(second.replayed).toBe(true);
    expect(second.session.session_id).toBe(first.session.session_id);
    expect(first.requestId).toMatch(/^req_/);
    expect(first.attempts).toBe(1);
    expect(await server.admin.sessions({ external_case_id: "claim_replay" })).toHaveLength(1);
  });

  it("passes trace_id and expires_at through to the session", async () => {
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const session = await klarefi.sessions.create(sessionBody({ trace_id: "trace_abc", expires_at: expiresAt }));
    expect(session.trace_id).toBe("trace_abc");
    expect(Date.parse(session.expires_at)).toBe(Date.parse(expiresAt));
  });

  it("stores the example body's session on the server under the idempotency key it was sent with", async () => {
    const session = await klarefi.sessions.create({ ...SEED_EXAMPLE_BODY, idempotency_key: "seed_fields_check" });
    const [stored] = await server.admin.sessions({ external_case_id: SEED_EXAMPLE_BODY.external_case_id, status: "open" }).then((all) =>
      all.filter((s) => s.idempotency_key === "seed_fields_check"),
    );
    expect(stored?.session_id).toBe(session.session_id);
  });
});

describe("sessions.retrieve, sessions.revoke and cases.retrieve", () => {
  it("reads back the session it created", async () => {
    const created = await klarefi.sessions.create(sessionBody());
    const read = await klarefi.sessions.retrieve(created.session_id);
    expect(read.session_id).toBe(created.session_id);
    expect(read.status).toBe("open");
  });

  it("revokes a session, and revoking it again succeeds without change", async () => {
    const created = await klarefi.sessions.create(sessionBody());
    const revoked = await klarefi.sessions.revoke(created.session_id);
    expect(revoked.status).toBe("revoked");
    expect(revoked.revoked_at).not.toBeNull();
    const again = await klarefi.sessions.revoke(created.session_id);
    expect(again.status).toBe("revoked");
    expect(again.revoked_at).toBe(revoked.revoked_at);
    expect((await klarefi.sessions.retrieve(created.session_id)).status).toBe("revoked");
  });

  it("reads the case behind a session under the session's id", async () => {
    const created = await klarefi.sessions.create(sessionBody({ case_type_id: "home_claim" }));
    const kase = await klarefi.cases.retrieve(created.session_id);
    expect(Case.parse(kase)).toEqual(kase);
    expect(kase).toMatchObject({
      object: "case",
      case_id: created.session_id,
      session_id: created.session_id,
      case_type_id: "home_claim",
      session_status: "open",
    });
  });

  it("caps requests in flight at maxConcurrency by its own semaphore, even over a pool of 64 connections", async () => {
    // A pool wider than the cap: only the client's semaphore can hold the server's peak to 3.
    const wide = new Agent({ connections: 64 });
    onTestFinished(() => wide.close());
    await klarefi.close();
    klarefi = new Klarefi({ apiKey: server.apiKey, baseUrl: server.url, maxConcurrency: 3, dispatcher: wide });
    const created = await klarefi.sessions.create(sessionBody());
    await server.admin.setFaults({ latencyMs: 100 });
    const reads = await Promise.all(Array.from({ length: 12 }, () => klarefi.sessions.retrieve(created.session_id)));
    expect(reads.map((r) => r.session_id)).toEqual(Array.from({ length: 12 }, () => created.session_id));
    expect(await server.admin.peakInFlight()).toBe(3);
    expect(klarefi.inFlight).toBe(0);
  });
});
