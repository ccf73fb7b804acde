import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetch } from "undici";
import { Session } from "../../contract/schemas";
import { KlarefiStore } from "../../server";
import { sessionBody, startTestServer } from "../helpers/server";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "klarefi-persist-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function linkPart(signedUrl: string): string {
  const url = new URL(signedUrl);
  return `${url.pathname}${url.search}`;
}

describe("persistence", () => {
  it("keeps sessions, revocations, idempotency records and signed links across a restart on the same file", async () => {
    const dbPath = join(dir, "restart.db");
    const body = sessionBody();
    const first = await startTestServer({ dbPath });
    let kept: Session;
    let revoked: Session;
    try {
      kept = Session.parse(await (await first.createSession(body)).json());
      const other = Session.parse(await (await first.createSession(sessionBody())).json());
      revoked = Session.parse(
        await (await first.api(`/api/v1/sessions/${other.session_id}/revoke`, { method: "POST" })).json(),
      );
    } finally {
      await first.stop();
    }

    const second = await startTestServer({ dbPath });
    try {
      expect(second.port).not.toBe(0);
      const read = Session.parse(await (await second.api(`/api/v1/sessions/${kept.session_id}`)).json());
      expect({ ...read, signed_url: "" }).toEqual({ ...kept, signed_url: "" });
      expect(linkPart(read.signed_url)).toBe(linkPart(kept.signed_url));

      const pageRes = await fetch(`${second.url}${linkPart(kept.signed_url)}`);
      expect(pageRes.status).toBe(200);
      await pageRes.text();

      const replay = await second.createSession(body);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(Session.parse(await replay.json()).session_id).toBe(kept.session_id);

      const readRevoked = Session.parse(await (await second.api(`/api/v1/sessions/${revoked.session_id}`)).json());
      expect(readRevoked).toMatchObject({ status: "revoked", revoked_at: revoked.revoked_at });
    } finally {
      await second.stop();
    }
  });

  it("lets an explicit signingSecret override the stored one, so old links stop verifying", async () => {
    const dbPath = join(dir, "secret.db");
    const first = await startTestServer({ dbPath });
    let session: Session;
    try {
      session = Session.parse(await (await first.createSession(sessionBody())).json());
    } finally {
      await first.stop();
    }
    const second = await startTestServer({ dbPath, signingSecret: "another-secret-for-tests" });
    try {
      const res = await fetch(`${second.url}${linkPart(session.signed_url)}`);
      expect(res.status).toBe(403);
      await res.text();
      const fresh = Session.parse(await (await second.api(`/api/v1/sessions/${session.session_id}`)).json());
      expect(new URL(fresh.signed_url).searchParams.get("sig")).not.toBe(new URL(session.signed_url).searchParams.get("sig"));
      const ok = await fetch(`${second.url}${linkPart(fresh.signed_url)}`);
      expect(ok.status).toBe(200);
      await ok.text();
    } finally {
      await second.stop();
    }
  });

  it("generates the signing secret once per database file", () => {
    const path = join(dir, "meta.db");
    const a = KlarefiStore.open(path);
    const secret = a.signingSecret();
    expect(a.signingSecret()).toBe(secret);
    a.close();
    const b = KlarefiStore.open(path);
    expect(b.signingSecret()).toBe(secret);
    b.close();
    const c = KlarefiStore.open(join(dir, "other.db"));
    expect(c.signingSecret()).not.toBe(secret);
    c.close();
  });

  it("creates the database folder when it is missing", async () => {
    const server = await startTestServer({ dbPath: join(dir, "nested", "deeper", "k.db") });
    try {
      expect((await server.createSession(sessionBody())).status).toBe(201);
    } finally {
      await server.stop();
    }
  });

  it("runs on an in-memory database when asked", async () => {
    const server = await startTestServer({ dbPath: ":memory:" });
    try {
      expect(server.dbPath).toBe(":memory:");
      expect((await server.createSession(sessionBody())).status).toBe(201);
      expect(await server.admin.sessions()).toHaveLength(1);
    } finally {
      await server.stop();
    }
  });

  it("refuses to start on a port already in use, and closes cleanly twice", async () => {
    const server = await startTestServer({ dbPath: ":memory:" });
    await expect(startTestServer({ dbPath: ":memory:", port: server.port })).rejects.toThrow(/EADDRINUSE/);
    await server.stop();
    await server.close();
  });
});
