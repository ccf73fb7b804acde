/**
 * @module
 * The `IntakeSession` resource and the tiny serialized provider stored with it.
 */
import * as pulumi from "@pulumi/pulumi";
import { refusePlaintextApiKey } from "../config-guard";
import type { IntakeSessionArgs } from "./inputs";

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
  /** The Klarefi session id; in v1 also the case id for case reads. */
  declare readonly sessionId: pulumi.Output<string>;
  /** The case id (equal to `sessionId` in v1). */
  readonly caseId: pulumi.Output<string>;
  /** The applicant's link. A secret: encrypted in state, masked in output. */
  declare readonly signedUrl: pulumi.Output<string>;
  /** `open`, `revoked`, `expired` or `completed`, as of the last create or refresh. */
  declare readonly status: pulumi.Output<string>;
  /** When the link stops working. */
  declare readonly expiresAt: pulumi.Output<string>;
  declare readonly createdAt: pulumi.Output<string>;
  /** The idempotency key the session was created with. */
  declare readonly idempotencyKey: pulumi.Output<string>;
  declare readonly caseTypeId: pulumi.Output<string>;
  declare readonly externalCaseId: pulumi.Output<string>;
  declare readonly externalApplicantId: pulumi.Output<string>;
  declare readonly returnUrl: pulumi.Output<string | undefined>;
  declare readonly locale: pulumi.Output<string | undefined>;
  declare readonly traceId: pulumi.Output<string | undefined>;

  constructor(name: string, args: IntakeSessionArgs, opts?: pulumi.CustomResourceOptions) {
    refusePlaintextApiKey();
    // What pulumi.dynamic.Resource does, with the serialized provider written
    // by hand instead of by closure serialization (see SERIALIZED_PROVIDER).
    const props = {
      ...args,
      __provider: SERIALIZED_PROVIDER,
      keyScope: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
      sessionId: undefined,
      signedUrl: undefined,
      status: undefined,
      createdAt: undefined,
      request: undefined,
    };
    super(INTAKE_SESSION_TYPE, name, props, {
      ...opts,
      additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "signedUrl"],
    });
    // The case id is the session id in v1: not stored twice.
    this.caseId = this.sessionId;
  }
}
