import { describe, expect, it } from "vitest";
import { ErrorBody, Session } from "../../contract/schemas";
import { apiKeyScope } from "../../server";
import { sessionBody, useTestServer, waitForHeldKey } from "../helpers/server";

const SECOND_KEY = "sk_test_klarefi_local_second_000000";
const server = useTestServer({ apiKeys: ["sk_test_klarefi_local_0000000000000000", SECOND_KEY] });

describe("idempotent creates", () => {
  it("replays the same session with Idempotent-Replayed: true for the same key and body", async () => {
    const body = sessionBody();
    const first = await server.createSession(body);
    const second = await server.createSession(body);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    const a = Session.parse(await first.json());
    const b = Session.parse(await second.json());
    expect(b).toEqual(a);
    expect(await server.admin.sessions({ external_case_id: body.external_case_id })).toHaveLength(1);
  });

  it("replays a session in its current state, so a revoked one comes back revoked", async () => {
    const body = sessionBody();
    const created = Session.parse(await (await server.createSession(body)).json());
    await server.api(`/api/v1/sessions/${created.session_id}/revoke`, { method: "POST" });
    const replay = await server.createSession(body);
    expect(replay.status).toBe(201);
    const session = Session.parse(await replay.json());
    expect(session.session_id).toBe(created.session_id);
    expect(session.status).toBe("revoked");
  });

  it("treats the same expires_at instant spelled differently as the same body", async () => {
    const at = new Date(server.clock.now() + 5 * 86_400_000);
    at.setUTCMilliseconds(0);
    const body = sessionBody({ expires_at: at.toISOString() });
    const first = Session.parse(await (await server.createSession(body)).json());
    const respelled = { ...body, expires_at: at.toISOString().replace(".000Z", "Z") };
    const second = await server.createSession(respelled);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(Session.parse(await second.json()).session_id).toBe(first.session_id);
  });

  it("replays a retry that carries a different trace_id, keeping the original trace_id", async () => {
    const body = sessionBody({ trace_id: "attempt-1" });
    const first = Session.parse(await (await server.createSession(body)).json());
    const retry = await server.createSession({ ...body, trace_id: "attempt-2" });
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    const replayed = Session.parse(await retry.json());
    expect(replayed.session_id).toBe(first.session_id);
    expect(replayed.trace_id).toBe("attempt-1");
  });

  it("answers 422 idempotency_key_reused for the same key with a different body", async () => {
    const body = sessionBody();
    expect((await server.createSession(body)).status).toBe(201);
    const res = await server.createSession({ ...body, external_case_id: "claim_other" });
    expect(res.status).toBe(422);
    expect(ErrorBody.parse(await res.json()).error).toMatchObject({
      type: "idempotency_error",
      code: "idempotency_key_reused",
      param: "idempotency_key",
    });
  });

  it("scopes keys per API key: the same key under another API key creates another session", async () => {
    const body = sessionBody();
    const a = Session.parse(await (await server.createSession(body)).json());
    const res = await server.createSession(body, { authorization: `Bearer ${SECOND_KEY}` });
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    expect(Session.parse(await res.json()).session_id).not.toBe(a.session_id);
  });

  it("answers 409 idempotency_key_in_use with Retry-After: 1 while the first request is in flight", async () => {
    // The first create holds its key for 1 s after taking it.
    await server.admin.setFaults({ latencyMs: 1000 });
    const body = sessionBody();
    const first = server.createSession(body);
    await waitForHeldKey(server, body.idempotency_key);
    const conflict = await server.createSession(body);
    const ok = await first;
    expect([ok.status, conflict.status]).toEqual([201, 409]);
    expect(conflict.headers.get("retry-after")).toBe("1");
    expect(ErrorBody.parse(await conflict.json()).error).toMatchObject({
      type: "idempotency_error",
      code: "idempotency_key_in_use",
    });
    const created = Session.parse(await ok.json());

    await server.admin.setFaults({});
    const after = await server.createSession(body);
    expect(after.status).toBe(201);
    expect(after.headers.get("idempotent-replayed")).toBe("true");
    expect(Session.parse(await after.json()).session_id).toBe(created.session_id);
  });

  it("reclaims an in-flight record abandoned for more than 60 seconds", async () => {
    const body = sessionBody();
    const scope = apiKeyScope(server.apiKey);
    const planted = server.store.reserveIdempotency(scope, body.idempotency_key, "some-hash", server.clock.now(), "stale-token");
    expect(planted.kind).toBe("reserved");
    const blocked = await server.createSession(body);
    expect(blocked.status).toBe(409);
    await server.admin.advanceClock(61);
    const res = await server.createSession(body);
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
  });

  it("does not keep a key that was refused, so a failed create can be retried", async () => {
    const body = sessionBody({ expires_at: new Date(server.clock.now() - 1000).toISOString() });
    expect((await server.createSession(body)).status).toBe(422);
    const fixed = { ...body, expires_at: new Date(server.clock.now() + 86_400_000).toISOString() };
    const res = await server.createSession(fixed);
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
  });

  it("does not store a key for a request refused by an injected fault", async () => {
    await server.admin.setFaults({ seed: 1, rate503: 1 });
    const body = sessionBody();
    const refused = await server.createSession(body);
    expect(refused.status).toBe(503);
    await server.admin.setFaults({});
    const res = await server.createSession(body);
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
  });
});
