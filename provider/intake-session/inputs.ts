/**
 * @module
 * What an intake session takes and keeps: the resource arguments, the checked
 * inputs, the outputs stored in state and the request snapshot `diff` compares.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { isAllowedReturnUrl, type Session } from "../../contract/schemas";

/** Inputs of an {@link IntakeSession}. Every field but `rotation` and `idempotencyKey` is sent to the API. */
export interface IntakeSessionArgs {
  /** Case type identifier from the Klarefi dashboard, e.g. `motor_claim`. */
  caseTypeId: pulumi.Input<string>;
  /** Your own case reference, e.g. `claim_48392`. */
  externalCaseId: pulumi.Input<string>;
  /** Your own applicant reference, e.g. `applicant_789`. */
  externalApplicantId: pulumi.Input<string>;
  /** Where the hosted page sends the applicant when done; https only. */
  returnUrl?: pulumi.Input<string>;
  /** BCP 47 language tag for the hosted page, e.g. `nl`. */
  locale?: pulumi.Input<string>;
  /** Trace id for support and debugging; echoed by the API. */
  traceId?: pulumi.Input<string>;
  /** When the link stops working (RFC 3339); the API's default is 30 days after creation. */
  expiresAt?: pulumi.Input<string>;
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
}

const MAX_REF = 255;
const text = (property: string, max = MAX_REF) =>
  z
    .string({ error: `${property} must be a string` })
    .trim()
    .min(1, { error: `${property} must not be empty` })
    .max(max, { error: `${property} must be at most ${max} characters` });

/**
 * The checked inputs. `keyScope` is contributed by the resource constructor
 * (project/stack/name); it feeds the derived idempotency key and nothing else.
 */
export const IntakeSessionInputs = z.object({
  caseTypeId: text("caseTypeId", 64).regex(/^[a-z][a-z0-9_]*$/, {
    error: 'caseTypeId must be lower-case letters, digits and underscores, starting with a letter (e.g. "motor_claim")',
  }),
  externalCaseId: text("externalCaseId"),
  externalApplicantId: text("externalApplicantId"),
  returnUrl: z
    .string({ error: "returnUrl must be a string" })
    .max(2048, { error: "returnUrl must be at most 2048 characters" })
    .refine(isAllowedReturnUrl, { error: "returnUrl must be an absolute https:// URL (http:// only for localhost)" })
    .optional(),
  locale: z
    .string({ error: "locale must be a string" })
    .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, { error: 'locale must be a BCP 47 language tag such as "nl" or "nl-BE"' })
    .optional(),
  traceId: z
    .string({ error: "traceId must be a string" })
    .regex(/^[\x21-\x7e]{1,128}$/, { error: "traceId must be 1 to 128 printable ASCII characters without spaces" })
    .optional(),
  expiresAt: z.iso
    .datetime({ offset: true, error: "expiresAt must be an RFC 3339 timestamp such as 2027-03-31T00:00:00Z" })
    .optional(),
  // 240 leaves room for the `~n` generation suffix within the API's 255.
  idempotencyKey: text("idempotencyKey", 240).optional(),
  rotation: text("rotation", 128).optional(),
  adoptSessionId: text("adoptSessionId", 128)
    .regex(/^[A-Za-z0-9_-]+$/, { error: "adoptSessionId must be a session id such as ses_…" })
    .optional(),
  keyScope: z.string().min(1),
});
export type IntakeSessionInputs = z.infer<typeof IntakeSessionInputs>;

/** Inputs whose change replaces the session: the API fields, the user's key and `rotation`. */
export const REPLACING_INPUTS = [
  "caseTypeId",
  "externalCaseId",
  "externalApplicantId",
  "returnUrl",
  "locale",
  "traceId",
  "expiresAt",
  "idempotencyKey",
  "rotation",
] as const satisfies readonly (keyof IntakeSessionInputs)[];
export type ReplacingInput = (typeof REPLACING_INPUTS)[number];
export type RequestSnapshot = Partial<Record<ReplacingInput, string>>;


/** What the state holds for one session. `request` is the input snapshot diff compares against. */
export interface IntakeSessionOutputs {
  sessionId: string;
  caseId: string;
  signedUrl: string;
  status: Session["status"];
  expiresAt: string;
  createdAt: string;
  idempotencyKey: string;
  caseTypeId: string;
  externalCaseId: string;
  externalApplicantId: string;
  returnUrl?: string;
  locale?: string;
  traceId?: string;
  rotation?: string;
  keyScope: string;
  request: RequestSnapshot;
}

/** The state of one session: what the API says, plus the request snapshot diff compares against. */
export function outputsFrom(session: Session, keyScope: string, request: RequestSnapshot, idempotencyKey: string): IntakeSessionOutputs {
  const outs: IntakeSessionOutputs = {
    sessionId: session.session_id,
    caseId: session.case_id,
    signedUrl: session.signed_url,
    status: session.status,
    expiresAt: session.expires_at,
    createdAt: session.created_at,
    idempotencyKey,
    caseTypeId: session.case_type_id,
    externalCaseId: session.external_case_id,
    externalApplicantId: session.external_applicant_id,
    keyScope,
    request,
  };
  if (session.return_url !== null) outs.returnUrl = session.return_url;
  if (session.locale !== null) outs.locale = session.locale;
  if (session.trace_id !== null) outs.traceId = session.trace_id;
  if (request.rotation !== undefined) outs.rotation = request.rotation;
  return outs;
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
export function apiFields(inputs: IntakeSessionInputs) {
  return {
    case_type_id: inputs.caseTypeId,
    external_case_id: inputs.externalCaseId,
    external_applicant_id: inputs.externalApplicantId,
    return_url: inputs.returnUrl,
    locale: inputs.locale,
    trace_id: inputs.traceId,
    expires_at: inputs.expiresAt,
  };
}

