import { copyFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

/** The sessions' times in milliseconds that move with a fixture's age (a column an older server did not have is left out). */
const SHIFTED_SESSION_COLUMNS = ["created_at", "expires_at", "revoked_at", "completed_at"];

/**
 * A copy in `dir` of a state fixture's server database (`<fixture>/klarefi.db`),
 * its times moved forward by the fixture's age (`<fixture>/created-at.txt`),
 * so that its 30-day links are still open and can be revoked: the sessions'
 * creation, expiry, revocation and completion, and the idempotency keys'
 * creation. `link_exp` (the `exp` signed into each link; a column of later
 * servers than some fixtures had) stays, so the server signs each link as
 * the fixture's state holds it. Returns the copy's path, for
 * `startTestServer({ dbPath })`.
 */
export function fixtureDatabase(fixture: string, dir: string): string {
  const db = path.join(dir, "klarefi.db");
  copyFileSync(path.join(fixture, "klarefi.db"), db);
  const madeAt = Date.parse(readFileSync(path.join(fixture, "created-at.txt"), "utf8").trim());
  const shiftMs = Math.max(0, Math.floor((Date.now() - madeAt) / 1000) * 1000);
  const sqlite = new DatabaseSync(db);
  try {
    const present = new Set(sqlite.prepare("SELECT name FROM pragma_table_info('sessions')").all().map((row) => row.name));
    const moved = SHIFTED_SESSION_COLUMNS.filter((column) => present.has(column)).map((column) => `${column} = ${column} + $s`);
    sqlite.prepare(`UPDATE sessions SET ${moved.join(", ")}`).run({ s: shiftMs });
    sqlite.prepare("UPDATE idempotency_keys SET created_at = created_at + ?").run(shiftMs);
  } finally {
    sqlite.close();
  }
  return db;
}
