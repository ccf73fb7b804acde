/**
 * @module
 * `IntakeCampaign`: the links of a fixed campaign as Pulumi resources.
 */
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { IntakeSession } from "../intake-session";
import { writeMailMerge } from "./mail-merge";
import { type CampaignRow, campaignRows, logicalNameFor } from "./rows";

/** Arguments of an {@link IntakeCampaign}. Give `rows` or `csvFile`. */
export interface IntakeCampaignArgs {
  /** Case type of every link, e.g. `hail_damage`. */
  caseTypeId: string;
  /** Applicants in code. */
  rows?: readonly CampaignRow[];
  /** Or a CSV file with a header row (relative paths resolve against the working directory). */
  csvFile?: string;
  /** Campaign-wide defaults; a row's own `locale` / `returnUrl` wins. */
  defaults?: { locale?: string; returnUrl?: string; expiresAt?: string; traceId?: string };
  /** Change to reissue every link of the campaign. */
  rotation?: string;
  /**
   * Opt-in mail-merge export: after `pulumi up`, write `external_case_id,
   * external_applicant_id,session_id,signed_url` to this file with owner-only
   * permissions. The file holds live links: treat it as a secret.
   */
  mailMergeFile?: string;
  /**
   * Keep every link working for applicants who already have it when a row
   * leaves the campaign or the stack is destroyed (Pulumi's `retainOnDelete`
   * on each session). Revoke such links with `klarefi sessions revoke`.
   */
  retainOnDelete?: boolean;
}

/** One provisioned link of a campaign. */
export interface CampaignLink {
  sessionId: string;
  signedUrl: string;
}

/**
 * The intake links of a fixed campaign: one {@link IntakeSession} per
 * applicant row. `pulumi up` provisions them, `pulumi destroy` revokes every
 * one. Resource names derive from the external case id, so adding, removing
 * or editing a row touches only that row in `pulumi preview`. Invalid or
 * duplicated rows are reported with their line numbers before any API call.
 *
 * @example
 * ```ts
 * import * as klarefi from "@klarefi/pulumi";
 *
 * const hail = new klarefi.IntakeCampaign("hail-2027", {
 *   caseTypeId: "hail_damage",
 *   csvFile: "applicants.csv",
 *   defaults: { locale: "nl", expiresAt: "2027-06-30T00:00:00Z" },
 * });
 * export const links = hail.links; // secret: { [externalCaseId]: { sessionId, signedUrl } }
 * ```
 */
export class IntakeCampaign extends pulumi.ComponentResource {
  /** External case id → its link. Secret, because it holds the signed URLs. */
  readonly links: pulumi.Output<Record<string, CampaignLink>>;
  /** External case id → its session resource. */
  readonly sessions: Readonly<Record<string, IntakeSession>>;
  /** How many links the campaign holds. */
  readonly size: number;
  /** Path of the mail-merge file, once written (`pulumi up` only). */
  readonly mailMergeFile: pulumi.Output<string | undefined>;

  constructor(name: string, args: IntakeCampaignArgs, opts?: pulumi.ComponentResourceOptions) {
    super("klarefi:index:IntakeCampaign", name, {}, opts);
    const rows = campaignRows(args);
    const defaults = args.defaults ?? {};
    const sessions: Record<string, IntakeSession> = {};
    for (const row of rows) {
      sessions[row.externalCaseId] = new IntakeSession(
        `${name}-${logicalNameFor(row.externalCaseId)}`,
        {
          caseTypeId: args.caseTypeId,
          externalCaseId: row.externalCaseId,
          externalApplicantId: row.externalApplicantId,
          locale: row.locale ?? defaults.locale,
          returnUrl: row.returnUrl ?? defaults.returnUrl,
          expiresAt: defaults.expiresAt,
          traceId: defaults.traceId,
          rotation: args.rotation,
        },
        { parent: this, retainOnDelete: args.retainOnDelete ?? false },
      );
    }
    this.sessions = sessions;
    this.size = rows.length;
    const byCase = Object.entries(sessions).map(([caseId, s]) =>
      pulumi.all([s.sessionId, s.signedUrl]).apply(([sessionId, signedUrl]) => [caseId, { sessionId, signedUrl }] as const),
    );
    this.links = pulumi.secret(pulumi.all(byCase).apply((entries) => Object.fromEntries(entries)));
    const applicants = Object.fromEntries(rows.map((r) => [r.externalCaseId, r.externalApplicantId]));
    const target = args.mailMergeFile;
    this.mailMergeFile =
      target === undefined || pulumi.runtime.isDryRun()
        ? pulumi.output(undefined)
        : pulumi.unsecret(this.links).apply((links) => writeMailMerge(path.resolve(target), links, applicants));
    this.registerOutputs({ links: this.links, size: this.size, mailMergeFile: this.mailMergeFile });
  }
}

