/**
 * @module
 * What an intake session takes and keeps: the resource arguments, the checked
 * inputs, the outputs stored in state and the request snapshot `diff` compares.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { fields } from "../../contract/fields";
import { type ByName, inputShape, REQUEST_FIELD_LIST, REQUEST_FIELDS, type RequestName, toWire } from "../../contract/request-fields";
import type { Session } from "../../contract/schemas";
import { MAX_USER_IDEMPOTENCY_KEY_LENGTH } from "../idempotency";
import type { SessionFields } from "../session-ops";

/**
 * Inputs of an {@link IntakeSession}: the request fields
 * (contract/request-fields.ts: `caseTypeId`, `externalCaseId`,
 * `externalApplicantId`, `returnUrl`, `locale`, `traceId`, `expiresAt`),
 * which are sent to the API, and the provider's own below.
 */
export interface IntakeSessionArgs extends ByName<pulumi.Input<string>> {
  /** Your own idempotency key; derived from the stack, the resource name and the inputs when absent. */
  idempotencyKey?: pulumi.Input<string>;
  /** Any label; change it to replace the link with a fresh one while keeping the other inputs. */
  rotation?: pulumi.Input<string>;
  /**
   * Take over an open session created outside Pulumi (by id) instead of
   * creating one; its case type and external ids must match these inputs.
   * `pulumi import` and the `import` option do not work with dynamic
   * providers, so this is how an existing link joins a stack. Only read on
   * create: removing it later changes nothing.
   */
  adoptSessionId?: pulumi.Input<string>;
  /**
   * `"allow"` lets a change that needs a new link (a new case type, external
   * id, locale, return URL or trace id) revoke and reissue this link. Without
   * it such a change is refused before any API call. A new `expiresAt` never
   * needs it (the deadline moves in place), nor does a new `rotation` (which
   * is itself the request for a new link). A completed session is kept
   * through any change but a new `rotation`.
   */
  reissue?: pulumi.Input<"allow">;
}

/**
 * The checked inputs. `keyScope` is contributed by the resource constructor
 * (project/stack/name); it feeds the derived idempotency key and nothing else.
 * Every rule is the contract's (contract/fields.ts), named as the user writes it.
 */
export const IntakeSessionInputs = z.object({
  // A locale is sent in canonical case (`NL` → `nl`); the diff compares it so too.
  ...inputShape(),
  // Leaves room for the `~n` generation suffix within the API's limit.
  idempotencyKey: fields.idempotencyKey("idempotencyKey", MAX_USER_IDEMPOTENCY_KEY_LENGTH).optional(),
  rotation: fields.label("rotation").optional(),
  adoptSessionId: fields.sessionId("adoptSessionId").optional(),
  reissue: z.literal("allow", { error: 'reissue must be "allow" or left out' }).optional(),
  keyScope: z.string().min(1),
});
export type IntakeSessionInputs = z.infer<typeof IntakeSessionInputs>;

/**
 * The inputs the request snapshot records: the API fields, the user's key and
 * `rotation`. A change to any of them is a change; all but the fields that
 * change in place (`expiresAt`: {@link needsNewLink}) need a new link.
 */
export const REPLACING_INPUTS: readonly ReplacingInput[] = [...REQUEST_FIELD_LIST.map((field) => field.name), "idempotencyKey", "rotation"];
export type ReplacingInput = RequestName | "idempotencyKey" | "rotation";
/** Whether a change to this input needs a new link: every one but a request field that changes in place (`expiresAt`). */
export function needsNewLink(name: ReplacingInput): boolean {
  return !(name in REQUEST_FIELDS) || REQUEST_FIELDS[name as RequestName].reissues;
}
/** Inputs whose change is itself the request for a new link. */
export const REISSUE_REQUESTS = ["rotation", "idempotencyKey"] as const satisfies readonly ReplacingInput[];
export type RequestSnapshot = Partial<Record<ReplacingInput, string>>;


/**
 * What the implementation answers for one session: what the API decides (id,
 * link, status, expiry, creation time, the key used) and the request snapshot
 * diff compares against. The plugin stores all of it; the dynamic provider
 * stores only the snapshot, the link, the status and the expiry (stored.ts),
 * since every stored property is paid for at every checkpoint of the file and
 * S3 backends, for every session of the stack.
 */
export interface IntakeSessionOutputs {
  sessionId: string;
  signedUrl: string;
  status: Session["status"];
  expiresAt: string;
  createdAt: string;
  idempotencyKey: string;
  request: RequestSnapshot;
}

/** The state of one session: what the API says, plus the request snapshot diff compares against. */
export function outputsFrom(session: Session, request: RequestSnapshot, idempotencyKey: string): IntakeSessionOutputs {
  return {
    sessionId: session.session_id,
    signedUrl: session.signed_url,
    status: session.status,
    expiresAt: session.expires_at,
    createdAt: session.created_at,
    idempotencyKey,
    request,
  };
}

/** The outputs of state written by any version, without the input echoes older versions stored. */
export function keptOutputs(olds: Record<string, unknown>, request: RequestSnapshot): IntakeSessionOutputs {
  const text = (name: string) => (typeof olds[name] === "string" ? (olds[name] as string) : "");
  return {
    sessionId: text("sessionId"),
    signedUrl: text("signedUrl"),
    status: text("status") as Session["status"],
    expiresAt: text("expiresAt"),
    createdAt: text("createdAt"),
    idempotencyKey: text("idempotencyKey"),
    request,
  };
}

export function snapshot(inputs: Partial<Record<ReplacingInput, unknown>>): RequestSnapshot {
  const out: RequestSnapshot = {};
  for (const name of REPLACING_INPUTS) {
    const value = inputs[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}
/** The request body for the API, without its idempotency key. */
export function apiFields(inputs: IntakeSessionInputs): SessionFields {
  return toWire(inputs);
}

