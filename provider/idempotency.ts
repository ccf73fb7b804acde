/**
 * @module
 * How an `IntakeSession` chooses the idempotency keys it sends.
 *
 * `create` only sees the resource's inputs, and it must be safe to run twice:
 * a `pulumi up` killed after the API committed a session, then run again, has
 * to land on that same session. So keys are derived, never random:
 *
 *  - the *base* key is the user's `idempotencyKey` when given, else a hash of
 *    the resource's identity (project, stack, logical name), its `rotation`
 *    and every field sent to the API;
 *  - generation 1 sends the base key itself; generation n > 1 sends
 *    `${base}~${n}`.
 *
 * `create` walks the generations in order. A key that replays a session that
 * is no longer open (revoked by an earlier `destroy`, expired, completed), or
 * that the API says was used with another body, is skipped; the first key that
 * yields an open session wins. A re-run walks the same keys and so finds the
 * same session: no second open link for one resource.
 */
import { hash } from "node:crypto";
import { MAX_ID_LENGTH } from "../contract/fields";

/** The walk gives up after this many generations: the inputs are then unusable as they are. */
export const MAX_KEY_GENERATIONS = 25;

/** Longest key the API accepts (`idempotency_key`). */
const MAX_IDEMPOTENCY_KEY_LENGTH = MAX_ID_LENGTH;
/** Characters kept free for the `~n` generation suffix (`~25` takes 3; the rest is headroom). */
const GENERATION_SUFFIX_ROOM = 15;
/** Longest `idempotencyKey` a user may give: the API's limit less room for the generation suffix. */
export const MAX_USER_IDEMPOTENCY_KEY_LENGTH = MAX_IDEMPOTENCY_KEY_LENGTH - GENERATION_SUFFIX_ROOM;

/**
 * The key scope of a resource: `${project}/${stack}/${name}`. Every way a
 * resource is declared (the TypeScript constructors, the plugin from a URN)
 * derives it here, so that one project, stack and name always derive the
 * same idempotency keys, whichever language declared it.
 */
export function keyScope(project: string, stack: string, name: string): string {
  return `${project}/${stack}/${name}`;
}

/**
 * A campaign row's name, `${campaign}-${row}`, where `row` is the row's
 * logical name (`logicalNameFor` in campaign/rows.ts). Per-link mode names
 * the row's `IntakeSession` with it; bulk mode applies it to the campaign's
 * key scope to get the row's key scope. Because a key scope ends in the
 * name, both give the same scope, `keyScope(p, s, campaignRowName(c, r)) ===
 * campaignRowName(keyScope(p, s, c), r)`, and so the same keys: were the
 * modes to differ, switching a campaign between them would create a second
 * link per applicant and orphan the first.
 */
export function campaignRowName(campaign: string, row: string): string {
  return `${campaign}-${row}`;
}

/** What identifies one resource's intended session. */
export interface KeyIdentity {
  /** `${project}/${stack}/${logical name}`, contributed by the resource constructor. */
  scope: string;
  /** Optional user label; change it to get a fresh link for otherwise identical inputs. */
  rotation?: string | undefined;
  /** The request fields sent to the API, by their API names. */
  fields: Readonly<Record<string, string | undefined>>;
}

/** The base key for a resource: the user's own key, or one derived from its identity. */
export function baseIdempotencyKey(identity: KeyIdentity, userKey?: string): string {
  if (userKey !== undefined && userKey !== "") return userKey;
  const canonical = JSON.stringify([
    "klarefi-intake-session/v1",
    identity.scope,
    identity.rotation ?? "",
    Object.keys(identity.fields)
      .sort()
      .filter((name) => identity.fields[name] !== undefined)
      .map((name) => [name, identity.fields[name]]),
  ]);
  return `pulumi_${hash("sha256", canonical, "hex").slice(0, 40)}`;
}

/** The key sent for generation `generation` (1-based) of a base key. */
export function keyForGeneration(base: string, generation: number): string {
  if (!Number.isInteger(generation) || generation < 1) {
    throw new RangeError(`Key generation must be a whole number from 1, got ${generation}.`);
  }
  return generation === 1 ? base : `${base}~${generation}`;
}

/** What `create` should do after trying one key. */
export type KeyOutcome =
  | { kind: "open" }
  | { kind: "replayed-closed"; status: string }
  | { kind: "key-reused-with-other-body" };

/** Whether to keep the session a key produced, or move on to the next generation. */
export function nextStep(outcome: KeyOutcome, generation: number): "adopt" | "next" | "give-up" {
  if (outcome.kind === "open") return "adopt";
  return generation >= MAX_KEY_GENERATIONS ? "give-up" : "next";
}
