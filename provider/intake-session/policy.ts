/**
 * @module
 * The pure policies of an intake session: input checks and the diff that
 * decides between no change and replacement.
 */
import { expiryProblem } from "../../contract/fields";
import { canonicalValue } from "../../contract/request-fields";
import { fieldProblems } from "../../contract/messages";
import { reissueMessage } from "../reissue";
import { IntakeSessionInputs, needsNewLink, REISSUE_REQUESTS, REPLACING_INPUTS, snapshot } from "./inputs";

/** A check failure as the engine shows it: the property and a reason a person can act on. */
export interface CheckFailure {
  property: string;
  reason: string;
}

/**
 * Validates inputs before any API call. Returns the normalized inputs, or one
 * failure per property. An `expiresAt` in the past (or too far ahead) is only
 * refused when it is new: a campaign whose links have expired must still
 * preview, refresh and destroy.
 */
export function checkIntakeSessionInputs(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  now: Date = new Date(),
): { inputs: IntakeSessionInputs; failures: [] } | { inputs: Record<string, unknown>; failures: CheckFailure[] } {
  const parsed = IntakeSessionInputs.safeParse(news);
  const failures: CheckFailure[] = parsed.success
    ? []
    : fieldProblems(parsed.error, news).map(({ field, message }) => ({ property: field || "inputs", reason: message }));
  const expiresAt = news.expiresAt;
  const expiresAtRefused = failures.some((f) => f.property === "expiresAt");
  if (typeof expiresAt === "string" && !expiresAtRefused && expiresAt !== olds.expiresAt) {
    const problem = expiryProblem("expiresAt", expiresAt, now.getTime());
    if (problem !== undefined) failures.push({ property: "expiresAt", reason: problem });
  }
  if (failures.length > 0 || !parsed.success) return { inputs: news, failures };
  const refusal = reissueRefusal(olds, parsed.data);
  if (refusal) return { inputs: news, failures: [refusal] };
  return { inputs: parsed.data, failures: [] };
}

/**
 * The guard on reissuing a live link: an update (old inputs exist) that
 * changes a field needing a new link is refused unless `reissue: "allow"`, a
 * new `rotation` or a new `idempotencyKey` asks for it.
 */
export function reissueRefusal(olds: Record<string, unknown>, news: IntakeSessionInputs): CheckFailure | undefined {
  if (news.reissue === "allow" || typeof olds.caseTypeId !== "string" || typeof olds.keyScope !== "string") return undefined;
  const differs = (name: string) => normalize(name, olds[name]) !== normalize(name, (news as Record<string, unknown>)[name]);
  if (REISSUE_REQUESTS.some(differs)) return undefined;
  const changed = REPLACING_INPUTS.filter((name) => needsNewLink(name) && differs(name));
  if (changed.length === 0) return undefined;
  return { property: changed[0] as string, reason: reissueMessage([news.externalCaseId], changed) };
}

/**
 * Compares the stored request snapshot with new inputs. The serialized
 * provider (`__provider`) and `keyScope` are ignored: a provider upgrade or a
 * stack rename never touches a live link. A new `expiresAt` is an in-place
 * update (the deadline moves, the link stays). Any other change replaces the
 * session, new one first, then the old one is revoked; except that a
 * completed session is kept (updated in place, no API call) unless `rotation`
 * or `idempotencyKey` asks for a new one.
 */
export function diffIntakeSession(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): { changes: boolean; replaces: string[]; deleteBeforeReplace: false } {
  const stored: Record<string, unknown> = isRecord(olds.request) ? olds.request : legacySnapshot(olds, news);
  const changed = REPLACING_INPUTS.filter((name) => normalize(name, stored[name]) !== normalize(name, news[name]));
  let replaces: string[] = changed.filter(needsNewLink);
  const requested = replaces.some((name) => (REISSUE_REQUESTS as readonly string[]).includes(name));
  if (olds.status === "completed" && !requested) replaces = [];
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
}

/** Whether the expiry asked for differs from the one the stored request asked for. */
export function expiryChanged(olds: Record<string, unknown>, news: Record<string, unknown>): boolean {
  const stored: Record<string, unknown> = isRecord(olds.request) ? olds.request : legacySnapshot(olds, news);
  return normalize("expiresAt", stored.expiresAt) !== normalize("expiresAt", news.expiresAt);
}

/**
 * State written before the request snapshot existed has only outputs, where
 * `expiresAt` and `idempotencyKey` are what the API chose, not necessarily what
 * was asked. When the new inputs leave those out, the old state cannot say they
 * changed, and a live link is never replaced on a guess.
 */
function legacySnapshot(olds: Record<string, unknown>, news: Record<string, unknown>): Record<string, unknown> {
  const stored: Record<string, unknown> = snapshot(olds);
  for (const chosenByApi of ["expiresAt", "idempotencyKey"] as const) {
    if (news[chosenByApi] === undefined) delete stored[chosenByApi];
  }
  return stored;
}

function normalize(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") return JSON.stringify(value);
  const trimmed = value.trim();
  if (name === "expiresAt") {
    const at = Date.parse(trimmed);
    return Number.isNaN(at) ? trimmed : new Date(at).toISOString();
  }
  // A locale stored as written before locales were sent in canonical case: `NL` is `nl`.
  return canonicalValue(name, trimmed);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

