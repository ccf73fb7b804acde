import { describe, expect, it } from "vitest";
import { fetch } from "undici";
import { Case, ErrorBody, Session } from "../../contract/schemas";
import { sessionBody, startTestServer, useTestServer } from "../helpers/server";

const server = useTestServer();

async function create(overrides: Parameters<typeof sessionBody>[0] = {}): Promise<Session> {
  const res = await server.createSession(sessionBody(overrides));
  expect(res.status).toBe(201);
  return Session.parse(await res.json());
}

function withQuery(signedUrl: string, change: (q: URLSearchParams) => void): string {
  const url = new URL(signedUrl);
  change(url.searchParams);
  return url.toString();
}

async function page(url: string, init?: Parameters<typeof fetch>[1]) {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, html: await res.text() };
}

describe("the hosted intake page", () => {
  it("opens an open session's signed link as an intake page with the case type, a form and a way back", async () => {
    const session = await create();
    const p = await page(session.signed_url);
    expect(p.status).toBe(200);
    expect(p.headers.get("content-type")).toContain("text/html");
    expect(p.html).toMatch(/<title>[^<]*Klarefi intake[^<]*<\/title>/);
    expect(p.html).toContain("motor_claim");
    expect(p.html).toContain('<form method="post"');
    expect(p.html).toContain('href="https://claims.example.com/claim_48392"');
    expect(p.html).toContain('lang="nl"');
  });

  it("sets Cache-Control: no-store and Referrer-Policy: no-referrer on intake and refusal pages", async () => {
    const session = await create();
    for (const url of [session.signed_url, withQuery(session.signed_url, (q) => q.set("sig", "0".repeat(64)))]) {
      const p = await page(url);
      expect(p.headers.get("cache-control")).toBe("no-store");
      expect(p.headers.get("referrer-policy")).toBe("no-referrer");
      expect(p.headers.get("request-id")).toMatch(/^req_/);
    }
  });

  it("escapes every value it shows", async () => {
    const session = await create({ external_case_id: `<script>alert("x")</script>&co` });
    const p = await page(session.signed_url);
    expect(p.html).not.toContain("<script>");
    expect(p.html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co");
  });

  it("leaves the way back out when the session has no return_url", async () => {
    const { return_url: _r, ...body } = sessionBody();
    const session = Session.parse(await (await server.createSession(body)).json());
    const p = await page(session.signed_url);
    expect(p.status).toBe(200);
    expect(p.html).not.toContain("<a href");
  });

  it.each([
    ["a changed signature", (q: URLSearchParams) => q.set("sig", (q.get("sig") ?? "").replace(/.$/, (c) => (c === "0" ? "1" : "0")))],
    ["a stretched expiry", (q: URLSearchParams) => q.set("exp", String(Number(q.get("exp")) + 86_400))],
    ["a missing signature", (q: URLSearchParams) => q.delete("sig")],
    ["a missing expiry", (q: URLSearchParams) => q.delete("exp")],
    ["a malformed signature", (q: URLSearchParams) => q.set("sig", "not-hex")],
  ])("refuses a link with %s with a 403 page", async (_what, tamper) => {
    const session = await create();
    const p = await page(withQuery(session.signed_url, tamper));
    expect(p.status).toBe(403);
    expect(p.html).toContain("This link is not valid");
  });

  it("refuses a well-formed link to a session it does not hold with a 403 page", async () => {
    const session = await create();
    await server.admin.reset();
    const p = await page(session.signed_url);
    expect(p.status).toBe(403);
  });

  it("answers 410 saying the link was revoked once the session is revoked", async () => {
    const session = await create();
    await server.api(`/api/v1/sessions/${session.session_id}/revoke`, { method: "POST" });
    const p = await page(session.signed_url);
    expect(p.status).toBe(410);
    expect(p.html).toContain("This link was revoked");
  });

  it("answers 410 saying the link expired once the server clock passes expires_at", async () => {
    const session = await create({ expires_at: new Date(server.clock.now() + 3_600_000).toISOString() });
    expect((await page(session.signed_url)).status).toBe(200);
    await server.admin.advanceClock(3_601);
    const p = await page(session.signed_url);
    expect(p.status).toBe(410);
    expect(p.html).toContain("This link has expired");
  });

  it("accepts the form, marks the session completed and the case submitted, then refuses the link as already submitted", async () => {
    const session = await create();
    const submitted = await page(session.signed_url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "description=Rear-ended+at+a+red+light",
    });
    expect(submitted.status).toBe(200);
    expect(submitted.html).toContain("Thank you");
    expect(submitted.html).toContain('href="https://claims.example.com/claim_48392"');

    const read = Session.parse(await (await server.api(`/api/v1/sessions/${session.session_id}`)).json());
    expect(read.status).toBe("completed");
    const kase = Case.parse(await (await server.api(`/api/v1/cases/${session.session_id}`)).json());
    expect(kase).toMatchObject({ status: "submitted", session_status: "completed" });

    const again = await page(session.signed_url);
    expect(again.status).toBe(410);
    expect(again.html).toContain("Already submitted");

    const revoke = await server.api(`/api/v1/sessions/${session.session_id}/revoke`, { method: "POST" });
    expect(revoke.status).toBe(200);
    expect(Session.parse(await revoke.json())).toMatchObject({ status: "completed", revoked_at: null });
  });
});

describe("expiry by the server clock", () => {
  it("reads an open session past expires_at as expired and its case as closed, and revoking leaves it unchanged", async () => {
    const session = await create({ expires_at: new Date(server.clock.now() + 120_000).toISOString() });
    const now = await server.admin.advanceClock(121);
    expect(Date.parse(now)).toBeGreaterThan(Date.parse(session.expires_at));
    const read = Session.parse(await (await server.api(`/api/v1/sessions/${session.session_id}`)).json());
    expect(read.status).toBe("expired");
    const kase = Case.parse(await (await server.api(`/api/v1/cases/${session.session_id}`)).json());
    expect(kase).toMatchObject({ status: "closed", session_status: "expired" });
    const revoke = await server.api(`/api/v1/sessions/${session.session_id}/revoke`, { method: "POST" });
    expect(revoke.status).toBe(200);
    expect(Session.parse(await revoke.json())).toMatchObject({ status: "expired", revoked_at: null });
  });

  it("expires a session with the default lifetime after 30 days", async () => {
    const session = await create();
    await server.admin.advanceClock(29 * 86_400);
    expect(Session.parse(await (await server.api(`/api/v1/sessions/${session.session_id}`)).json()).status).toBe("open");
    await server.admin.advanceClock(86_400 + 1);
    expect(Session.parse(await (await server.api(`/api/v1/sessions/${session.session_id}`)).json()).status).toBe("expired");
  });
});

describe("a mailed link after its session's expiry moved (PATCH /api/v1/sessions/{id})", () => {
  const at = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
  const patch = (id: string, expiresAt: string) =>
    server.api(`/api/v1/sessions/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ expires_at: expiresAt }),
    });

  it("keeps the same link, which still opens after the original expiry and answers 410 after the new one", async () => {
    const created = await create({ expires_at: at(server.clock.now() + 3_600_000) });
    const extended = at(server.clock.now() + 3 * 3_600_000);
    const res = await patch(created.session_id, extended);
    expect(res.status).toBe(200);
    const updated = Session.parse(await res.json());
    expect(updated.session_id).toBe(created.session_id);
    expect(updated.signed_url).toBe(created.signed_url);
    expect(updated.expires_at).toBe(extended);

    await server.admin.advanceClock(2 * 3_600); // an hour past the link's own exp
    const open = await page(created.signed_url);
    expect(open.status).toBe(200);
    expect(open.html).toContain(extended);

    await server.admin.advanceClock(3_600 + 1); // past the new expiry
    const expired = await page(created.signed_url);
    expect(expired.status).toBe(410);
    expect(expired.html).toContain("This link has expired");
  });

  it("refuses the link once a shortened expiry has passed, though the link's own exp is later", async () => {
    const created = await create({ expires_at: at(server.clock.now() + 10 * 3_600_000) });
    expect((await patch(created.session_id, at(server.clock.now() + 3_600_000))).status).toBe(200);
    await server.admin.advanceClock(3_600 + 1);
    expect((await page(created.signed_url)).status).toBe(410);
  });

  it("answers 409 session_not_open for a completed or revoked session and leaves the link as it was", async () => {
    const completed = await create();
    await page(completed.signed_url, { method: "POST", body: "description=x" });
    const revoked = await create();
    await server.api(`/api/v1/sessions/${revoked.session_id}/revoke`, { method: "POST" });
    for (const [session, status] of [[completed, "completed"], [revoked, "revoked"]] as const) {
      const res = await patch(session.session_id, at(server.clock.now() + 86_400_000));
      expect(res.status).toBe(409);
      const body = ErrorBody.parse(await res.json());
      expect(body.error).toMatchObject({ code: "session_not_open" });
      expect(body.error.message).toContain(`is ${status}`);
      expect((await page(session.signed_url)).status).toBe(410);
    }
  });
});

describe("publicBaseUrl", () => {
  it("builds signed URLs on the configured public base", async () => {
    const other = await startTestServer({ dbPath: ":memory:", publicBaseUrl: "https://intake.example.test/" });
    try {
      const res = await other.createSession(sessionBody());
      const session = Session.parse(await res.json());
      expect(session.signed_url.startsWith(`https://intake.example.test/i/${session.session_id}?exp=`)).toBe(true);
      const local = new URL(session.signed_url);
      expect((await page(`${other.url}${local.pathname}${local.search}`)).status).toBe(200);
    } finally {
      await other.stop();
    }
  });
});
