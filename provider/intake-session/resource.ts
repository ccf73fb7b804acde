/**
 * @module
 * The `IntakeSession` resource and the tiny serialized provider stored with it.
 */
import * as pulumi from "@pulumi/pulumi";
import { refusePlaintextApiKey } from "../config-guard";
import { type EchoName, REQUEST_FIELD_LIST, type RequiredName } from "../../contract/request-fields";
import { keyScope } from "../idempotency";
import type { IntakeSessionArgs } from "./inputs";
import { STORED_ARGS } from "./stored";

/**
 * The serialized provider (`__provider`) stored with every session, twice.
 * The dynamic-provider host loads it as a CommonJS module and calls its
 * `handler`; this one only finds the installed provider by package name. It
 * carries no code and no secret, and at about 100 bytes it keeps state small:
 * Pulumi's closure serialization of the same object takes 2.3 KB a copy, and
 * the file backend rewrites the whole state at every step of an `up`.
 */
export const SERIALIZED_PROVIDER = `exports.handler = () => require("@klarefi/pulumi/intake-session").intakeSessionProvider;\n`;

/** The type token: what `pulumi.dynamic.Resource` would make of module `klarefi` and type `IntakeSession`. */
export const INTAKE_SESSION_TYPE = "pulumi-nodejs:dynamic/klarefi:IntakeSession";

/**
 * The request fields an {@link IntakeSession} outputs as they were asked
 * (contract/request-fields.ts, `echo`): `caseTypeId`, `externalCaseId`,
 * `externalApplicantId`, `returnUrl`, `locale`, `traceId`.
 */
export type RequestEchoes = { readonly [K in EchoName]: pulumi.Output<K extends RequiredName ? string : string | undefined> };

// The echoes are properties of every IntakeSession (set by the constructor).
export interface IntakeSession extends RequestEchoes {}

/**
 * A Klarefi intake session: the signed link one applicant opens to submit a
 * case. `pulumi up` creates it (with a deterministic idempotency key, so an
 * interrupted run never leaves two open links), `pulumi destroy` revokes it,
 * and a change to any field sent to the API replaces it: the new link is
 * created first, then the old one is revoked.
 *
 * Credentials come from stack config (`klarefi:apiKey`, secret, and
 * `klarefi:baseUrl`) or `KLAREFI_API_KEY` / `KLAREFI_BASE_URL`; never from
 * inputs. Set `retainOnDelete: true` to leave a link working for applicants
 * who already have it when the resource leaves the stack.
 *
 * @example
 * ```ts
 * import * as klarefi from "@klarefi/pulumi";
 *
 * const session = new klarefi.IntakeSession("claim-48392", {
 *   caseTypeId: "motor_claim",
 *   externalCaseId: "claim_48392",
 *   externalApplicantId: "applicant_789",
 *   returnUrl: "https://claims.example.com/claim_48392",
 *   locale: "nl",
 * });
 * export const sessionId = session.sessionId;   // also the case id for case reads
 * export const signedUrl = session.signedUrl;   // secret
 * ```
 */
export class IntakeSession extends pulumi.CustomResource {
  /** The Klarefi session id (the resource id); in v1 also the case id for case reads. */
  readonly sessionId: pulumi.Output<string>;
  /** The case id (equal to `sessionId` in v1). */
  readonly caseId: pulumi.Output<string>;
  /** The applicant's link. A secret: encrypted in state, masked in output. */
  declare readonly signedUrl: pulumi.Output<string>;
  /** `open`, `revoked`, `expired` or `completed`, as of the last create or refresh. */
  declare readonly status: pulumi.Output<string>;
  /** When the link stops working. */
  declare readonly expiresAt: pulumi.Output<string>;

  constructor(name: string, args: IntakeSessionArgs, opts?: pulumi.CustomResourceOptions) {
    refusePlaintextApiKey();
    // What pulumi.dynamic.Resource does, with the serialized provider written
    // by hand instead of by closure serialization (see SERIALIZED_PROVIDER),
    // and the arguments in one property (the stored shape: stored.ts).
    const props = {
      __provider: SERIALIZED_PROVIDER,
      [STORED_ARGS]: { ...args, keyScope: keyScope(pulumi.getProject(), pulumi.getStack(), name) },
      signedUrl: undefined,
      status: undefined,
      expiresAt: undefined,
    };
    super(INTAKE_SESSION_TYPE, name, props, {
      ...opts,
      additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "signedUrl"],
    });
    // The session id is the resource id, and the case id the session id in v1: neither is stored again.
    this.sessionId = this.id;
    this.caseId = this.id;
    // The request fields as asked (`caseTypeId`, `locale`, …: `RequestEchoes`), from the arguments: not stored again.
    const echoes = this as unknown as Record<string, pulumi.Output<string | undefined>>;
    for (const field of REQUEST_FIELD_LIST) if (field.echo) echoes[field.name] = pulumi.output(args[field.name]);
  }
}
