/**
 * @module
 * The local server's storage: one SQLite file (node:sqlite, WAL mode,
 * `synchronous = NORMAL`) with three tables: `sessions`, `idempotency_keys`
 * and `meta`. Every call is synchronous, so a method that runs without an
 * `await` in between is atomic within the process; writes that belong
 * together also share one `BEGIN IMMEDIATE` transaction so several processes
 * on one file stay consistent.
 *
 * Times are integer milliseconds since the epoch, passed in by the caller
 * (the server clock), never read here.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type SQLOutputValue, type StatementSync } from "node:sqlite";
import type { SessionStatus } from "../contract/schemas";
import { generateSigningSecret } from "./signing";

/** What is stored for a session; `expired` is never stored, it is computed from `expires_at`. */
export type StoredState = "open" | "revoked" | "completed";

export interface SessionRecord {
  session_id: string;
  case_type_id: string;
  idempotency_key: string;
  external_case_id: string;
  external_applicant_id: string;
  return_url: string | null;
  locale: string | null;
  trace_id: string | null;
  state: StoredState;
  expires_at: number;
  /**
   * The `exp` (unix seconds) of the signed link as it was issued: the
   * session's first `expires_at`. It stays when the expiry is moved, so the
   * signed URL (which the applicant may hold in a mail) never changes.
   */
  link_exp: number;
  created_at: number;
  revoked_at: number | null;
  completed_at: number | null;
}

/** How long an in-flight idempotency record holds its key before it counts as abandoned. */
export const IN_FLIGHT_TIMEOUT_MS = 60_000;

/** The outcome of trying to take an idempotency key for a create. */
export type Reservation =
  | { kind: "reserved"; token: string }
  | { kind: "replay"; session: SessionRecord }
  | { kind: "mismatch" }
  | { kind: "in_use" };

/** The outcome of moving a session's expiry: updated, or refused because it is no longer open. */
export type ExpiryUpdate = { kind: "updated"; session: SessionRecord } | { kind: "not_open"; session: SessionRecord };

export interface SessionFilter {
  status?: SessionStatus;
  case_type_id?: string;
  external_case_id?: string;
  external_applicant_id?: string;
}

/** The status a reader sees at `nowMs`: an open session past its `expires_at` is expired. */
export function effectiveStatus(record: SessionRecord, nowMs: number): SessionStatus {
  if (record.state === "open" && nowMs >= record.expires_at) return "expired";
  return record.state;
}

/** The idempotency scope of an API key: a hash, so keys are never stored. */
export function apiKeyScope(apiKey: string): string {
  return createHash("sha256").update(apiKey).digest("hex").slice(0, 32);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  case_type_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  external_case_id TEXT NOT NULL,
  external_applicant_id TEXT NOT NULL,
  return_url TEXT,
  locale TEXT,
  trace_id TEXT,
  state TEXT NOT NULL CHECK (state IN ('open', 'revoked', 'completed')),
  expires_at INTEGER NOT NULL,
  link_exp INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  completed_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_by_created ON sessions (created_at);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
  token TEXT NOT NULL,
  session_id TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (scope, idempotency_key)
) STRICT;
`;

const SESSION_COLUMNS =
  "session_id, case_type_id, idempotency_key, external_case_id, external_applicant_id, return_url, locale, trace_id, state, expires_at, link_exp, created_at, revoked_at, completed_at";

interface IdempotencyRow {
  body_hash: string;
  state: "in_flight" | "completed";
  token: string;
  session_id: string | null;
  created_at: number;
}

/** SQLite-backed store of sessions, idempotency records and server metadata. */
export class KlarefiStore {
  readonly #db: DatabaseSync;
  readonly #stmt: Record<
    | "getMeta"
    | "setMeta"
    | "getSession"
    | "insertSession"
    | "getIdem"
    | "insertIdem"
    | "reclaimIdem"
    | "completeIdem"
    | "releaseIdem"
    | "revoke"
    | "complete"
    | "updateExpiry"
    | "list"
    | "count",
    StatementSync
  >;
  #closed = false;

  private constructor(readonly path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA busy_timeout = 5000");
    if (path !== ":memory:") this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = NORMAL");
    this.#db.exec(SCHEMA);
    this.#migrate();
    const db = this.#db;
    this.#stmt = {
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      getSession: db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE session_id = ?`),
      insertSession: db.prepare(
        `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES ($session_id, $case_type_id, $idempotency_key, $external_case_id, $external_applicant_id, $return_url, $locale, $trace_id, $state, $expires_at, $link_exp, $created_at, $revoked_at, $completed_at)`,
      ),
      getIdem: db.prepare(
        "SELECT body_hash, state, token, session_id, created_at FROM idempotency_keys WHERE scope = ? AND idempotency_key = ?",
      ),
      insertIdem: db.prepare(
        "INSERT INTO idempotency_keys (scope, idempotency_key, body_hash, state, token, session_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      reclaimIdem: db.prepare(
        "UPDATE idempotency_keys SET body_hash = ?, state = 'in_flight', token = ?, session_id = NULL, created_at = ? WHERE scope = ? AND idempotency_key = ?",
      ),
      completeIdem: db.prepare(
        "UPDATE idempotency_keys SET state = 'completed', session_id = ? WHERE scope = ? AND idempotency_key = ? AND token = ?",
      ),
      releaseIdem: db.prepare(
        "DELETE FROM idempotency_keys WHERE scope = ? AND idempotency_key = ? AND token = ? AND state = 'in_flight'",
      ),
      revoke: db.prepare(
        "UPDATE sessions SET state = 'revoked', revoked_at = $now WHERE session_id = $id AND state = 'open' AND expires_at > $now",
      ),
      complete: db.prepare(
        "UPDATE sessions SET state = 'completed', completed_at = $now WHERE session_id = $id AND state = 'open' AND expires_at > $now",
      ),
      updateExpiry: db.prepare(
        "UPDATE sessions SET expires_at = $expires_at WHERE session_id = $id AND state = 'open' AND expires_at > $now",
      ),
      list: db.prepare(
        `SELECT ${SESSION_COLUMNS} FROM sessions
         WHERE ($case_type_id IS NULL OR case_type_id = $case_type_id)
           AND ($external_case_id IS NULL OR external_case_id = $external_case_id)
           AND ($external_applicant_id IS NULL OR external_applicant_id = $external_applicant_id)
           AND ($state IS NULL OR state = $state)
           AND ($expired IS NULL OR ($expired = 1 AND expires_at <= $now) OR ($expired = 0 AND expires_at > $now))
         ORDER BY created_at, rowid`,
      ),
      count: db.prepare("SELECT COUNT(*) AS n FROM sessions"),
    };
  }

  /** Opens (creating when needed) the database at `path`; `:memory:` keeps everything in memory. */
  static open(path: string): KlarefiStore {
    return new KlarefiStore(path);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  getMeta(key: string): string | undefined {
    const row = this.#stmt.getMeta.get(key);
    return row === undefined ? undefined : String(row.value);
  }

  setMeta(key: string, value: string): void {
    this.#stmt.setMeta.run(key, value);
  }

  /** The link-signing secret of this database, generated and saved on first use so links survive restarts. */
  signingSecret(): string {
    return this.#transaction(() => {
      const existing = this.getMeta("signing_secret");
      if (existing !== undefined) return existing;
      const secret = generateSigningSecret();
      this.setMeta("signing_secret", secret);
      return secret;
    });
  }

  getSession(sessionId: string): SessionRecord | undefined {
    const row = this.#stmt.getSession.get(sessionId);
    return row === undefined ? undefined : toRecord(row);
  }

  countSessions(): number {
    return Number(this.#stmt.count.get()?.n ?? 0);
  }

  /**
   * Takes an idempotency key for a create, before any asynchronous work:
   * a free key (or one whose in-flight holder is older than
   * IN_FLIGHT_TIMEOUT_MS) gets an `in_flight` record carrying `bodyHash`
   * and a token for `completeCreate`; a completed key answers a replay or a
   * mismatch; a key held by a live request answers `in_use`.
   */
  reserveIdempotency(scope: string, key: string, bodyHash: string, nowMs: number, token: string): Reservation {
    return this.#transaction((): Reservation => {
      const row = this.#getIdem(scope, key);
      if (row === undefined) {
        this.#stmt.insertIdem.run(scope, key, bodyHash, "in_flight", token, null, nowMs);
        return { kind: "reserved", token };
      }
      if (row.state === "completed") {
        const session = row.session_id === null ? undefined : this.getSession(row.session_id);
        if (session !== undefined) return row.body_hash === bodyHash ? { kind: "replay", session } : { kind: "mismatch" };
        // The session is gone (should not happen outside a reset): let the key be used again.
        this.#stmt.reclaimIdem.run(bodyHash, token, nowMs, scope, key);
        return { kind: "reserved", token };
      }
      if (nowMs - row.created_at < IN_FLIGHT_TIMEOUT_MS) return { kind: "in_use" };
      this.#stmt.reclaimIdem.run(bodyHash, token, nowMs, scope, key);
      return { kind: "reserved", token };
    });
  }

  /**
   * Inserts the session and completes the idempotency record in one
   * transaction. Answers false (and writes nothing) when the reservation was
   * taken over meanwhile by a request that reclaimed an abandoned key.
   */
  completeCreate(scope: string, key: string, token: string, bodyHash: string, session: SessionRecord): boolean {
    return this.#transaction(() => {
      const row = this.#getIdem(scope, key);
      if (row !== undefined && row.token !== token) return false;
      this.#stmt.insertSession.run({ ...session });
      if (row === undefined) {
        // A reset cleared the reservation while this request was in flight.
        this.#stmt.insertIdem.run(scope, key, bodyHash, "completed", token, session.session_id, session.created_at);
      } else {
        this.#stmt.completeIdem.run(session.session_id, scope, key, token);
      }
      return true;
    });
  }

  /** Gives an in-flight reservation up (the create failed before committing). */
  releaseIdempotency(scope: string, key: string, token: string): void {
    this.#stmt.releaseIdem.run(scope, key, token);
  }

  /**
   * Whether a create holds `key` right now (`in_flight`), has finished with
   * it (`completed`), or nobody has it: tests wait for a held key instead of
   * sleeping before they send a duplicate.
   */
  idempotencyState(scope: string, key: string): "in_flight" | "completed" | undefined {
    return this.#getIdem(scope, key)?.state;
  }

  /** Revokes an open, unexpired session; any other session is returned unchanged. */
  revokeSession(sessionId: string, nowMs: number): SessionRecord | undefined {
    return this.#transaction(() => {
      this.#stmt.revoke.run({ id: sessionId, now: nowMs });
      return this.getSession(sessionId);
    });
  }

  /** Marks an open, unexpired session as submitted by the applicant; any other is returned unchanged. */
  completeSession(sessionId: string, nowMs: number): SessionRecord | undefined {
    return this.#transaction(() => {
      this.#stmt.complete.run({ id: sessionId, now: nowMs });
      return this.getSession(sessionId);
    });
  }

  /**
   * Moves an open, unexpired session's `expires_at`, leaving its `link_exp`
   * (and so its signed URL) as issued. A session that is revoked, completed
   * or past its expiry is answered `not_open`, unchanged. Undefined when no
   * such session exists.
   */
  updateExpiry(sessionId: string, expiresAtMs: number, nowMs: number): ExpiryUpdate | undefined {
    return this.#transaction((): ExpiryUpdate | undefined => {
      const changes = this.#stmt.updateExpiry.run({ id: sessionId, expires_at: expiresAtMs, now: nowMs }).changes;
      const session = this.getSession(sessionId);
      if (session === undefined) return undefined;
      return Number(changes) === 1 ? { kind: "updated", session } : { kind: "not_open", session };
    });
  }

  /** Sessions matching every given filter, oldest first; `status` is matched as readers see it at `nowMs`. */
  listSessions(filter: SessionFilter, nowMs: number): SessionRecord[] {
    const status = filter.status;
    const state = status === undefined ? null : status === "expired" ? "open" : status;
    const expired = status === "expired" ? 1 : status === "open" ? 0 : null;
    const rows = this.#stmt.list.all({
      case_type_id: filter.case_type_id ?? null,
      external_case_id: filter.external_case_id ?? null,
      external_applicant_id: filter.external_applicant_id ?? null,
      state,
      expired,
      now: nowMs,
    });
    return rows.map(toRecord);
  }

  /** Deletes every session and idempotency record; keeps the signing secret. */
  reset(): void {
    this.#transaction(() => {
      this.#db.exec("DELETE FROM sessions; DELETE FROM idempotency_keys;");
    });
  }

  /**
   * Brings a database written by an earlier release up to this schema:
   * `link_exp` was added when expiries became movable. Until then the link's
   * `exp` always was `expires_at` in seconds, so that is what it is filled
   * with, and every link already handed out keeps verifying. Runs in one
   * transaction that checks again, so two processes opening the same old
   * file do not both add the column.
   */
  #migrate(): void {
    const hasLinkExp = () =>
      this.#db
        .prepare("SELECT name FROM pragma_table_info('sessions')")
        .all()
        .some((row) => row.name === "link_exp");
    if (hasLinkExp()) return;
    this.#transaction(() => {
      if (hasLinkExp()) return;
      this.#db.exec("ALTER TABLE sessions ADD COLUMN link_exp INTEGER NOT NULL DEFAULT 0");
      this.#db.exec("UPDATE sessions SET link_exp = expires_at / 1000");
    });
  }

  #getIdem(scope: string, key: string): IdempotencyRow | undefined {
    const row = this.#stmt.getIdem.get(scope, key);
    if (row === undefined) return undefined;
    return {
      body_hash: String(row.body_hash),
      state: row.state === "completed" ? "completed" : "in_flight",
      token: String(row.token),
      session_id: row.session_id === null ? null : String(row.session_id),
      created_at: Number(row.created_at),
    };
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

function toRecord(row: Record<string, SQLOutputValue>): SessionRecord {
  const text = (v: SQLOutputValue | undefined) => (v === null || v === undefined ? null : String(v));
  const num = (v: SQLOutputValue | undefined) => (v === null || v === undefined ? null : Number(v));
  const state = String(row.state);
  return {
    session_id: String(row.session_id),
    case_type_id: String(row.case_type_id),
    idempotency_key: String(row.idempotency_key),
    external_case_id: String(row.external_case_id),
    external_applicant_id: String(row.external_applicant_id),
    return_url: text(row.return_url),
    locale: text(row.locale),
    trace_id: text(row.trace_id),
    state: state === "revoked" || state === "completed" ? state : "open",
    expires_at: Number(row.expires_at),
    link_exp: Number(row.link_exp),
    created_at: Number(row.created_at),
    revoked_at: num(row.revoked_at),
    completed_at: num(row.completed_at),
  };
}
