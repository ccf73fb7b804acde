/**
 * @module
 * `IntakeCampaignLinks`: a whole campaign's links as one engine resource (the
 * bulk mode of `IntakeCampaign`), and the tiny serialized provider stored with it.
 */
import * as pulumi from "@pulumi/pulumi";
import { refusePlaintextApiKey } from "../../config-guard";
import { keyScope } from "../../idempotency";
import type { LinkRowInput, LinkState, StatusSummary } from "./inputs";

/** The serialized provider: finds the installed bulk provider by package name (no code, no secret). */
export const SERIALIZED_CAMPAIGN_LINKS_PROVIDER = `exports.handler = () => require("@klarefi/pulumi/campaign-links").campaignLinksProvider;\n`;

/** The type token, as `pulumi.dynamic.Resource` would make it for module `klarefi`. */
export const CAMPAIGN_LINKS_TYPE = "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks";

/** Arguments of {@link IntakeCampaignLinks}: the campaign's rows and defaults, already validated. */
export interface IntakeCampaignLinksArgs {
  caseTypeId: string;
  /** External case id → the applicant and the row's own overrides. */
  rows: Record<string, LinkRowInput>;
  locale?: string | undefined;
  returnUrl?: string | undefined;
  expiresAt?: string | undefined;
  traceId?: string | undefined;
  rotation?: string | undefined;
  reissue?: "allow" | undefined;
  retainRemovedRows?: boolean | undefined;
}

/**
 * Every link of a campaign in one engine resource. Use it through
 * `IntakeCampaign` with `mode: "bulk"`; it is exported for programs that
 * build their rows themselves.
 *
 * @example
 * ```ts
 * const links = new klarefi.IntakeCampaignLinks("hail-2027", {
 *   caseTypeId: "hail_damage",
 *   rows: { claim_1: { applicant: "applicant_1" }, claim_2: { applicant: "applicant_2", locale: "fr" } },
 *   expiresAt: "2027-06-30T00:00:00Z",
 * });
 * export const summary = links.summary; // { total, open, completed, revoked, expired }
 * ```
 */
export class IntakeCampaignLinks extends pulumi.CustomResource {
  /** External case id → `{ id, status, fp, exp }` of its session. */
  declare readonly sessions: pulumi.Output<Record<string, LinkState>>;
  /** External case id → signed URL. A secret. */
  declare readonly signedUrls: pulumi.Output<Record<string, string>>;
  /** Counts per status, as of the last `up` or `refresh`. */
  declare readonly summary: pulumi.Output<StatusSummary>;

  constructor(name: string, args: IntakeCampaignLinksArgs, opts?: pulumi.CustomResourceOptions) {
    refusePlaintextApiKey();
    const inputs = Object.fromEntries(Object.entries(args).filter(([, value]) => value !== undefined));
    super(
      CAMPAIGN_LINKS_TYPE,
      name,
      {
        ...inputs,
        __provider: SERIALIZED_CAMPAIGN_LINKS_PROVIDER,
        keyScope: keyScope(pulumi.getProject(), pulumi.getStack(), name),
        sessions: undefined,
        signedUrls: undefined,
        summary: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "signedUrls"] },
    );
  }
}
