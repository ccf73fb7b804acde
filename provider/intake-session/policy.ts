/**
 * @module
 * The pure policies of an intake session: input checks and the diff that
 * decides between no change and replacement.
 */
import { MAX_EXPIRY_DAYS } from "../../contract/schemas";
import { IntakeSessionInputs, REPLACING_INPUTS, snapshot } from "./inputs";

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
  const failures: CheckFailure[] = [];
  const seen = new Set<string>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const property = String(issue.path[0] ?? "inputs");
      if (seen.has(property)) continue;
      seen.add(property);
      failures.push({ property, reason: issue.code === "invalid_type" && news[property] === undefined ? `${property} is required` : issue.message });
    }
  }
  const expiresAt = news.expiresAt;
  if (typeof expiresAt === "string" && !seen.has("expiresAt") && expiresAt !== olds.expiresAt) {
    const at = Date.parse(expiresAt);
    const limit = now.getTime() + MAX_EXPIRY_DAYS * 86_400_000;
    if (at <= now.getTime()) failures.push({ property: "expiresAt", reason: `expiresAt ${expiresAt} is in the past; choose a future time` });
    else if (at > limit) failures.push({ property: "expiresAt", reason: `expiresAt ${expiresAt} is more than ${MAX_EXPIRY_DAYS} days ahead` });
  }
  if (failures.length > 0 || !parsed.success) return { inputs: news, failures };
  return { inputs: parsed.data, failures: [] };
}

/**
 * Compares the stored request snapshot with new inputs. The serialized
 * provider (`__provider`) and `keyScope` are ignored: a provider upgrade or a
 * stack rename never touches a live link. Any other change replaces the
 * session, new one first, then the old one is revoked.
 */
export function diffIntakeSession(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): { changes: boolean; replaces: string[]; deleteBeforeReplace: false } {
  const stored: Record<string, unknown> = isRecord(olds.request) ? olds.request : legacySnapshot(olds, news);
  const replaces = REPLACING_INPUTS.filter((name) => normalize(name, stored[name]) !== normalize(name, news[name]));
  return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
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
  return trimmed;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

