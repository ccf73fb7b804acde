/**
 * @module
 * `IntakeCampaign`: the links of a fixed campaign, as one `IntakeSession` per
 * applicant (`mode: "per-link"`) or as one `IntakeCampaignLinks` resource
 * holding every link (`mode: "bulk"`).
 */
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { campaignRowName } from "../idempotency";
import { IntakeSession } from "../intake-session";
import { IntakeCampaignLinks } from "./links/resource";
import { countStatuses, type LinkRowInput, type LinkState, type StatusSummary } from "./links/inputs";
import { shardOf } from "./links/shards";
import { type ByName, campaignRequests, canonicalForms, toRowNames } from "../../contract/request-fields";
import { mailMergeWritten, type MailMergeRow, writeMailMerge } from "../../contract/mail-merge";
import { type CampaignDefaults, type CampaignRow, CampaignRowsError, campaignRows, logicalNameFor, type SourcedRow } from "./rows";

/** Arguments of an {@link IntakeCampaign}. Give `rows` or `csvFile`. */
export interface IntakeCampaignArgs {
  /** Case type of every link, e.g. `hail_damage`. */
  caseTypeId: string;
  /** Applicants in code. */
  rows?: readonly CampaignRow[];
  /** Or a CSV file with a header row (relative paths resolve against the working directory). */
  csvFile?: string;
  /** Campaign-wide defaults (`locale`, `returnUrl`, `expiresAt`, `traceId`); a row's own `locale` / `returnUrl` wins. */
  defaults?: CampaignDefaults;
  /** Change to reissue every link of the campaign, completed ones included. */
  rotation?: string | undefined;
  /**
   * `"allow"` lets a change that needs new links (a new locale, return URL,
   * trace id or case type) revoke and reissue the links already mailed.
   * Without it such a change is refused before any API call, with the count
   * of links it would reissue. Applicants who completed keep their sessions
   * either way; only a new `rotation` reissues those. A new `expiresAt` never
   * needs it: the deadline moves in place.
   */
  reissue?: "allow" | undefined;
  /**
   * How the links live in the stack. `"per-link"` (the default): one
   * `IntakeSession` per applicant, for small campaigns and for wiring single
   * links into other resources. `"bulk"`: one `IntakeCampaignLinks` resource
   * for the whole campaign, at the speed of the API for thousands of links
   * (see docs/campaigns.md for which to choose and how to switch an
   * existing campaign without any applicant getting a new link).
   */
  mode?: "per-link" | "bulk" | undefined;
  /**
   * Bulk mode: how many resources hold the campaign's links (default 1).
   * Rows are spread over them by a hash of the external case id, and the
   * engine runs them one after another, so that Ctrl-C stops an `up` after
   * the shard in flight with every finished shard recorded. Choose it when
   * the campaign starts (docs/campaigns.md, "Scale": about one shard per
   * 300 links against a rate-limited API, or for runs you may interrupt); a
   * live campaign keeps its count (a change is refused before any API call).
   */
  shards?: number | undefined;
  /**
   * Opt-in mail-merge export: after `pulumi up`, write `external_case_id,
   * external_applicant_id,session_id,signed_url,locale,expires_at` to this
   * file with owner-only permissions. The file holds live links: treat it as
   * a secret.
   */
  mailMergeFile?: string | undefined;
  /**
   * Keep every link working for applicants who already have it when a row
   * leaves the campaign or the stack is destroyed (Pulumi's `retainOnDelete`
   * on the campaign's resources). Revoke such links with
   * `klarefi sessions revoke --from-csv`.
   */
  retainOnDelete?: boolean | undefined;
}

/** One provisioned link of a campaign. */
export interface CampaignLink {
  sessionId: string;
  signedUrl: string;
}

/**
 * The intake links of a fixed campaign. `pulumi up` provisions them,
 * `pulumi destroy` revokes every one. Adding, removing or editing a row
 * touches only that row's link; invalid or duplicated rows are all reported
 * with their line numbers before any API call. A new `expiresAt` moves every
 * open link's deadline in place; a change that needs new links is refused
 * unless `reissue: "allow"` or a new `rotation` asks for it.
 *
 * @example
 * ```ts
 * import * as klarefi from "@klarefi/pulumi";
 *
 * const hail = new klarefi.IntakeCampaign("hail-2027", {
 *   caseTypeId: "hail_damage",
 *   csvFile: "applicants.csv",
 *   mode: "bulk", // thousands of links at the speed of the API
 *   defaults: { locale: "nl", expiresAt: "2027-06-30T00:00:00Z" },
 * });
 * export const links = hail.links;     // secret: { [externalCaseId]: { sessionId, signedUrl } }
 * export const summary = hail.summary; // { total, open, completed, revoked, expired }
 * ```
 */
export class IntakeCampaign extends pulumi.ComponentResource {
  /**
   * External case id → its link. Secret, because it holds the signed URLs.
   * Made on first use: joining 100,000 links costs the program a second.
   */
  get links(): pulumi.Output<Record<string, CampaignLink>> {
    this.#links ??= this.#makeLinks();
    return this.#links;
  }
  #links: pulumi.Output<Record<string, CampaignLink>> | undefined;
  readonly #makeLinks: () => pulumi.Output<Record<string, CampaignLink>>;
  /** Counts per session status (`open`, `completed`, `revoked`, `expired`), as of the last `up` or `refresh`. */
  readonly summary: pulumi.Output<StatusSummary>;
  /** Per-link mode: external case id → its session resource (empty in bulk mode). */
  readonly sessions: Readonly<Record<string, IntakeSession>>;
  /** Bulk mode: the resource holding the links (the first shard when there are several). */
  readonly bulk: IntakeCampaignLinks | undefined;
  /** Bulk mode: every shard resource, in the order the engine runs them. */
  readonly shards: readonly IntakeCampaignLinks[];
  /** How many links the campaign holds. */
  readonly size: number;
  /** Path of the mail-merge file, once written (`pulumi up` only). */
  readonly mailMergeFile: pulumi.Output<string | undefined>;

  constructor(name: string, args: IntakeCampaignArgs, opts?: pulumi.ComponentResourceOptions) {
    super("klarefi:index:IntakeCampaign", name, {}, opts);
    const rows = campaignRows(args);
    // Checked by campaignRows; in the form they are sent (a locale in canonical case), as the mail-merge file shows them.
    const defaults = canonicalForms(args.defaults ?? {});
    const defaultLocale = defaults.locale;
    const retainOnDelete = args.retainOnDelete ?? false;
    let mailMerge: () => pulumi.Output<MailMergeRow[]>;
    if (args.mode === "bulk") {
      const count = shardCount(args.shards);
      const perShard: Record<string, LinkRowInput>[] = Array.from({ length: count }, () => ({}));
      for (const row of rows) {
        (perShard[shardOf(row.externalCaseId, count)] as Record<string, LinkRowInput>)[row.externalCaseId] = toRowNames(row) as LinkRowInput;
      }
      // Shards run one after another (each depends on the one before): after a
      // Ctrl-C the engine finishes the shard in flight and starts no other, so
      // an interrupt takes effect within one shard's work and keeps every
      // finished shard in state.
      const shards: IntakeCampaignLinks[] = [];
      perShard.forEach((linkRows, index) => {
        const previous = shards[shards.length - 1];
        shards.push(
          new IntakeCampaignLinks(
            index === 0 ? name : `${name}-shard-${index + 1}`,
            {
              ...defaults,
              caseTypeId: args.caseTypeId,
              rows: linkRows,
              rotation: args.rotation,
              reissue: args.reissue,
              retainRemovedRows: retainOnDelete || undefined,
              campaign: { name, shard: { index, count } },
              csvFile: args.csvFile,
            },
            { parent: this, retainOnDelete, ...(previous === undefined ? {} : { dependsOn: [previous] }) },
          ),
        );
      });
      this.bulk = shards[0];
      this.shards = shards;
      this.sessions = {};
      this.summary = pulumi.all(shards.map((s) => s.summary)).apply(addSummaries);
      let joinedOnce: pulumi.Output<[Record<string, LinkState>, Record<string, string>]> | undefined;
      const joined = () =>
        (joinedOnce ??= pulumi.all([pulumi.all(shards.map((s) => s.sessions)), pulumi.all(shards.map((s) => s.signedUrls))]).apply(
          ([states, urls]) => [Object.assign({}, ...states), Object.assign({}, ...urls)] as [Record<string, LinkState>, Record<string, string>],
        ));
      this.#makeLinks = () => pulumi.secret(joined().apply(([states, urls]) => linksFrom(rows, states, urls)));
      mailMerge = () =>
        joined().apply(([states, urls]) =>
          rows.flatMap((row) => {
            const state = states[row.externalCaseId];
            const url = urls[row.externalCaseId];
            return state && url ? [mailMergeRow(row, defaultLocale, state.id, url, state.exp)] : [];
          }),
        );
    } else {
      const sessions: Record<string, IntakeSession> = {};
      const requestOf = campaignRequests({ ...defaults, caseTypeId: args.caseTypeId }, "program");
      for (const row of rows) {
        sessions[row.externalCaseId] = new IntakeSession(
          campaignRowName(name, logicalNameFor(row.externalCaseId)),
          {
            ...(requestOf(row.externalCaseId, toRowNames(row)) as ByName<string>),
            rotation: args.rotation,
            reissue: args.reissue,
          },
          { parent: this, retainOnDelete },
        );
      }
      this.bulk = undefined;
      this.shards = [];
      this.sessions = sessions;
      const perRow = rows.map((row) => {
        const s = sessions[row.externalCaseId] as IntakeSession;
        return pulumi.all([s.sessionId, s.signedUrl, s.status, s.expiresAt]).apply(([sessionId, signedUrl, status, expiresAt]) => ({
          row,
          sessionId,
          signedUrl,
          status,
          expiresAt,
        }));
      });
      const all = pulumi.all(perRow);
      this.#makeLinks = () => pulumi.secret(all.apply((items) => Object.fromEntries(items.map((i) => [i.row.externalCaseId, { sessionId: i.sessionId, signedUrl: i.signedUrl }]))));
      // From the statuses alone, so that the summary is not a secret.
      this.summary = pulumi.all(rows.map((row) => (sessions[row.externalCaseId] as IntakeSession).status)).apply(countStatuses);
      mailMerge = () => all.apply((items) => items.map((i) => mailMergeRow(i.row, defaultLocale, i.sessionId, i.signedUrl, i.expiresAt)));
    }
    this.size = rows.length;
    const target = args.mailMergeFile;
    this.mailMergeFile =
      target === undefined || pulumi.runtime.isDryRun()
        ? pulumi.output(undefined)
        : pulumi.unsecret(mailMerge()).apply((lines) => {
            const file = writeMailMerge(path.resolve(target), lines);
            // Mail-merge hook: say where the links went, and how many.
            void pulumi.log.info(mailMergeWritten(file, lines.length), this);
            return file;
          });
    // Not `links`: the component's outputs are written into every checkpoint that
    // follows (all of a destroy's), and the links are already in state once, with
    // their sessions (or in the bulk resource). `this.links` stays for the program.
    this.registerOutputs({ summary: this.summary, size: this.size, mailMergeFile: this.mailMergeFile });
  }
}

/** The shard count of a bulk campaign: a whole number from 1 to 1,024. */
function shardCount(shards: number | undefined): number {
  if (shards === undefined) return 1;
  if (!Number.isInteger(shards) || shards < 1 || shards > 1024) {
    throw new CampaignRowsError("IntakeCampaign", [{ message: `shards must be a whole number from 1 to 1024, not ${String(shards)}` }]);
  }
  return shards;
}

/** Sums the status counts of a campaign's shards. */
function addSummaries(summaries: readonly (StatusSummary | undefined)[]): StatusSummary {
  const total: StatusSummary = { total: 0, open: 0, completed: 0, revoked: 0, expired: 0 };
  for (const s of summaries) {
    if (s === undefined) continue;
    for (const key of Object.keys(total) as (keyof StatusSummary)[]) total[key] += s[key] ?? 0;
  }
  return total;
}

function linksFrom(rows: readonly SourcedRow[], states: Record<string, LinkState>, urls: Record<string, string>): Record<string, CampaignLink> {
  const links: Record<string, CampaignLink> = {};
  for (const row of rows) {
    const state = states[row.externalCaseId];
    const url = urls[row.externalCaseId];
    if (state && url) links[row.externalCaseId] = { sessionId: state.id, signedUrl: url };
  }
  return links;
}

function mailMergeRow(row: SourcedRow, defaultLocale: string | undefined, sessionId: string, signedUrl: string, expiresAt: string): MailMergeRow {
  return {
    externalCaseId: row.externalCaseId,
    externalApplicantId: row.externalApplicantId,
    sessionId,
    signedUrl,
    locale: row.locale ?? defaultLocale,
    expiresAt,
  };
}
