import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { fetch } from "undici";
import { Session } from "../../contract/schemas";
import { KlarefiStore, signLink } from "../../server";
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

  it("keeps a session's link and its moved expiry across a restart", async () => {
    const dbPath = join(dir, "patched.db");
    const first = await startTestServer({ dbPath });
    let created: Session;
    let extended: string;
    try {
      created = Session.parse(await (await first.createSession(sessionBody({ expires_at: new Date(first.clock.now() + 3_600_000).toISOString() }))).json());
      extended = new Date(Math.floor(first.clock.now() / 1000) * 1000 + 7 * 86_400_000).toISOString().replace(".000Z", "Z");
      const res = await first.api(`/api/v1/sessions/${created.session_id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ expires_at: extended }),
      });
      expect(res.status).toBe(200);
      await res.text();
    } finally {
      await first.stop();
    }
    const second = await startTestServer({ dbPath });
    try {
      const read = Session.parse(await (await second.api(`/api/v1/sessions/${created.session_id}`)).json());
      expect(read.expires_at).toBe(extended);
      expect(linkPart(read.signed_url)).toBe(linkPart(created.signed_url));
      await second.admin.advanceClock(2 * 3_600);
      const pageRes = await fetch(`${second.url}${linkPart(created.signed_url)}`);
      expect(pageRes.status).toBe(200);
      await pageRes.text();
    } finally {
      await second.stop();
    }
  });

  it("opens a database written before link_exp existed and keeps every link it handed out working", async () => {
    const dbPath = join(dir, "previous-release.db");
    const secret = "previous-release-secret";
    const expiresAt = Math.floor(Date.now() / 1000) * 1000 + 5 * 86_400_000 + 789; // stored ms may carry a remainder
    const old = new DatabaseSync(dbPath);
    try {
      // The sessions table exactly as the previous release created it.
      old.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
        CREATE TABLE sessions (
          session_id TEXT PRIMARY KEY, case_type_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
          external_case_id TEXT NOT NULL, external_applicant_id TEXT NOT NULL, return_url TEXT, locale TEXT,
          trace_id TEXT, state TEXT NOT NULL CHECK (state IN ('open', 'revoked', 'completed')),
          expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER, completed_at INTEGER
        ) STRICT;`);
      old.prepare("INSERT INTO meta (key, value) VALUES ('signing_secret', ?)").run(secret);
      old
        .prepare(
          "INSERT INTO sessions (session_id, case_type_id, idempotency_key, external_case_id, external_applicant_id, state, expires_at, created_at) VALUES (?, 'motor_claim', 'k_old', 'c_old', 'a_old', 'open', ?, ?)",
        )
        .run("ses_previousrelease00000000", expiresAt, Date.now());
    } finally {
      old.close();
    }
    const exp = Math.floor(expiresAt / 1000);
    const mailed = `/i/ses_previousrelease00000000?exp=${exp}&sig=${signLink(secret, "ses_previousrelease00000000", exp)}`;

    const server = await startTestServer({ dbPath });
    try {
      const read = Session.parse(await (await server.api("/api/v1/sessions/ses_previousrelease00000000")).json());
      expect(linkPart(read.signed_url)).toBe(mailed);
      const pageRes = await fetch(`${server.url}${mailed}`);
      expect(pageRes.status).toBe(200);
      await pageRes.text();
    } finally {
      await server.stop();
    }
    // Opening the migrated file again (as a second process would) changes nothing.
    const again = KlarefiStore.open(dbPath);
    try {
      expect(again.getSession("ses_previousrelease00000000")).toMatchObject({ expires_at: expiresAt, link_exp: exp });
    } finally {
      again.close();
    }
  });

  it("generates the signing secret once per database file", () => {
    const path = join(dir, "meta.db");
    const open = (file: string) => {
      const store = KlarefiStore.open(file);
      onTestFinished(() => store.close());
      return store;
    };
    const a = open(path);
    const secret = a.signingSecret();
    expect(a.signingSecret()).toBe(secret);
    a.close();
    const b = open(path);
    expect(b.signingSecret()).toBe(secret);
    b.close();
    expect(open(join(dir, "other.db")).signingSecret()).not.toBe(secret);
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
    try {
      await expect(startTestServer({ dbPath: ":memory:", port: server.port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await server.stop();
    }
    await server.close();
  });
});
