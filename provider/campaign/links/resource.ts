/**
 * @module
 * `IntakeCampaignLinks`: a whole campaign's links as one engine resource (the
 * bulk mode of `IntakeCampaign`), and the tiny serialized provider stored with it.
 */
import * as pulumi from "@pulumi/pulumi";
import { refusePlaintextApiKey } from "../../config-guard";
import type { ByName, CampaignName } from "../../../contract/request-fields";
import { keyScope } from "../../idempotency";
import type { LinkRowInput, LinkState, StatusSummary } from "./inputs";
import { packRows, unpackLinks, unpackUrls } from "./packed";

/** The serialized provider: finds the installed bulk provider by package name (no code, no secret). */
export const SERIALIZED_CAMPAIGN_LINKS_PROVIDER = `exports.handler = () => require("@klarefi/pulumi/campaign-links").campaignLinksProvider;\n`;

/** The type token, as `pulumi.dynamic.Resource` would make it for module `klarefi`. */
export const CAMPAIGN_LINKS_TYPE = "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks";

/**
 * Arguments of {@link IntakeCampaignLinks}: the campaign's settings
 * (`caseTypeId`) and the rows' defaults (`locale`, `returnUrl`, `expiresAt`,
 * `traceId`: contract/request-fields.ts), the rows, already validated.
 */
export interface IntakeCampaignLinksArgs extends ByName<string, CampaignName<"setting" | "row or default" | "default">> {
  /** External case id → the applicant and the row's own overrides. */
  rows: Record<string, LinkRowInput>;
  rotation?: string | undefined;
  reissue?: "allow" | undefined;
  retainRemovedRows?: boolean | undefined;
  /**
   * The campaign these rows belong to, when it is spread over several
   * resources (`IntakeCampaign`'s `shards`): keys derive from the campaign's
   * name, not the resource's, so every shard count and both modes agree.
   */
  campaign?: { name: string; shard: { index: number; count: number } } | undefined;
  /** The CSV file the rows came from, so that messages name its columns. */
  csvFile?: string | undefined;
}

/**
 * Every link of a campaign in one engine resource. Use it through
 * `IntakeCampaign` with `mode: "bulk"`; it is exported for programs that
 * build their rows themselves. The rows, the links and the signed URLs are
 * kept packed, one string each (packed.ts), so that a step that changes one
 * row or none costs little at 100,000 rows.
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
  /** Counts per status, as of the last `up` or `refresh`. */
  declare readonly summary: pulumi.Output<StatusSummary>;
  /** The links' state, packed (packed.ts); read {@link sessions} instead. */
  declare readonly links: pulumi.Output<string | undefined>;
  /** The signed URLs, packed (packed.ts); a secret. Read {@link signedUrls} instead. */
  declare readonly urls: pulumi.Output<string | undefined>;
  /** External case id → `{ id, status, fp, exp }` of its session (decoded on first use). */
  get sessions(): pulumi.Output<Record<string, LinkState>> {
    this.#sessions ??= this.links.apply((packed) => (packed === undefined ? {} : unpackLinks(packed)));
    return this.#sessions;
  }
  /** External case id → signed URL. A secret (decoded on first use). */
  get signedUrls(): pulumi.Output<Record<string, string>> {
    this.#signedUrls ??= pulumi.all([this.urls, this.sessions]).apply(([packed, sessions]) => (packed === undefined ? {} : unpackUrls(packed, sessions)));
    return this.#signedUrls;
  }
  #sessions: pulumi.Output<Record<string, LinkState>> | undefined;
  #signedUrls: pulumi.Output<Record<string, string>> | undefined;

  constructor(name: string, args: IntakeCampaignLinksArgs, opts?: pulumi.CustomResourceOptions) {
    refusePlaintextApiKey();
    const { campaign, rows, ...rest } = args;
    const inputs = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
    super(
      CAMPAIGN_LINKS_TYPE,
      name,
      {
        ...inputs,
        rows: packRows(rows),
        ...(campaign === undefined || campaign.shard.count === 1 ? {} : { shard: campaign.shard }),
        __provider: SERIALIZED_CAMPAIGN_LINKS_PROVIDER,
        keyScope: keyScope(pulumi.getProject(), pulumi.getStack(), campaign?.name ?? name),
        summary: undefined,
        links: undefined,
        urls: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "urls", "signedUrls"] },
    );
  }
}
