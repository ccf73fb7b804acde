/**
 * @module
 * The session operations both resources share (`IntakeSession` and the bulk
 * `IntakeCampaignLinks`): the idempotent create that walks key generations,
 * the revoke that treats "already closed" as done, and the read that tells a
 * session the API no longer knows from a failure.
 */
import { KlarefiConflictError, KlarefiError, KlarefiNotFoundError } from "../client/errors";
import type { Klarefi } from "../client/klarefi";
import type { CreateSessionRequest, Session } from "../contract/schemas";
import { keyForGeneration, MAX_KEY_GENERATIONS, nextStep, type KeyOutcome } from "./idempotency";

/** The request body of a create, without its idempotency key. */
export type SessionFields = Omit<CreateSessionRequest, "idempotency_key">;

/**
 * Creates (or finds again) the open session of one link. Key generation 1 is
 * the base key; a key that replays a closed session, or that the API saw with
 * another body, moves on to the next generation. A re-run walks the same keys
 * and so lands on the same session: never two open links for one row.
 */
export async function createOpenSession(
  client: Klarefi,
  fields: SessionFields,
  baseKey: string,
): Promise<{ session: Session; key: string }> {
  for (let generation = 1; generation <= MAX_KEY_GENERATIONS; generation++) {
    const key = keyForGeneration(baseKey, generation);
    let session: Session | undefined;
    let outcome: KeyOutcome;
    try {
      session = await client.sessions.create({ ...fields, idempotency_key: key });
      outcome = session.status === "open" ? { kind: "open" } : { kind: "replayed-closed", status: session.status };
    } catch (error) {
      if (!(error instanceof KlarefiConflictError && error.code === "idempotency_key_reused")) throw error;
      outcome = { kind: "key-reused-with-other-body" };
    }
    const step = nextStep(outcome, generation);
    if (step === "adopt" && session) return { session, key };
    if (step === "give-up") break;
  }
  throw new Error(
    `Creating intake session for ${fields.external_case_id} gave up after ${MAX_KEY_GENERATIONS} idempotency keys that all ` +
      `named closed sessions or other requests; set a new rotation value to start a fresh series.`,
  );
}

/** Two timestamps name the same second (the API keeps expiry to the second). */
export function sameSecond(a: string, b: string): boolean {
  return Math.floor(Date.parse(a) / 1000) === Math.floor(Date.parse(b) / 1000);
}

/** Revokes a link. Already revoked, expired or gone counts as done. */
export async function revokeSession(client: Klarefi, id: string): Promise<void> {
  try {
    await client.sessions.revoke(id);
  } catch (error) {
    if (error instanceof KlarefiNotFoundError) return;
    throw error;
  }
}

/** Reads a session; `undefined` when the API no longer knows it. */
export async function retrieveSession(client: Klarefi, id: string): Promise<Session | undefined> {
  try {
    return await client.sessions.retrieve(id);
  } catch (error) {
    if (error instanceof KlarefiNotFoundError) return undefined;
    throw error;
  }
}

/**
 * The re-read before a reissue, written once for both resources: the state
 * may say "open" while the applicant completed since the last refresh, and
 * a completed case is never reissued. True when the API says it completed.
 */
export async function completedSinceLastRead(client: Klarefi, id: string): Promise<boolean> {
  return (await retrieveSession(client, id))?.status === "completed";
}

/**
 * Moves an open session's expiry in place (`PATCH /api/v1/sessions/{id}`):
 * the link stays the same. An API without that operation (404 for the route,
 * or 405) is an error that says so; it never falls back to reissuing.
 */
export async function moveExpiry(client: Klarefi, id: string, expiresAt: string): Promise<Session> {
  try {
    return await client.sessions.update(id, { expires_at: expiresAt });
  } catch (error) {
    const unsupported = error instanceof KlarefiError && (error.status === 405 || (error.status === 404 && error.param !== "id"));
    if (!unsupported) throw error;
    throw new Error(
      `Moving the expiry of intake session ${id} to ${expiresAt} failed: this Klarefi API does not support changing a session's expiry ` +
        `(${error.status} ${error.code ?? ""}). Nothing was revoked or reissued. To give applicants new links with the new deadline on purpose, ` +
        `change rotation together with expiresAt; to keep the links as they are, undo the expiresAt change.`,
    );
  }
}

/**
 * Runs `task` over `items`, every one started at once: the client's semaphore
 * is the concurrency cap. `onSettled` hears whether each one succeeded.
 */
export async function settleAll<T, R>(items: readonly T[], task: (item: T) => Promise<R>, onSettled?: (settled: { ok: boolean }) => void) {
  return Promise.all(
    items.map(async (item) => {
      let ok = false;
      try {
        const value = await task(item);
        ok = true;
        return { item, ok: true as const, value };
      } catch (error) {
        return { item, ok: false as const, error };
      } finally {
        onSettled?.({ ok });
      }
    }),
  );
}
