/**
 * @module
 * What the bulk campaign resource (`IntakeCampaignLinks`) takes and keeps.
 *
 * Inputs hold the rows as a map keyed by external case id, so that
 * `pulumi preview --diff` names each row that changes. State holds, per row,
 * only what the next diff and the next destroy need (about 150 bytes), plus
 * every signed URL in one secret map.
 */
import { createHash, hash } from "node:crypto";
import { z } from "zod";
import { fields } from "../../../contract/fields";
import {
  type CampaignName,
  campaignFields,
  campaignRequests,
  DEFAULT_FIELD_LIST,
  inputShape,
  REQUEST_FIELD_LIST,
  rowShape,
  type WireName,
} from "../../../contract/request-fields";
import { type SessionStatus } from "../../../contract/schemas";
import type { SessionFields } from "../../session-ops";
import { campaignRowName } from "../../idempotency";
import { logicalNameFor } from "../rows";
import { isPacked, PACKED_ROWS_HEADER, unpackRows } from "./packed";

/** One applicant's row as the resource stores it, checked with the contract's rules. */
export const LinkRowInput = z.object(rowShape());
export type LinkRowInput = z.infer<typeof LinkRowInput>;

/** The request fields a bulk resource takes itself: the settings (`caseTypeId`) and the rows' defaults. */
export const CAMPAIGN_FIELDS = [...campaignFields("setting"), ...DEFAULT_FIELD_LIST].map((field) => field.name) as CampaignName<"setting" | "row or default" | "default">[];

/** The inputs of the bulk resource, as `IntakeCampaign` sends them. */
export const CampaignLinksInputs = z.object({
  /** `${project}/${stack}/${campaign name}`; each row's key scope adds `-${row name}`. */
  keyScope: z.string().min(1),
  ...inputShape(CAMPAIGN_FIELDS),
  rotation: fields.label("rotation").optional(),
  /** `"allow"`: a change that needs new links for live rows may revoke and reissue them. */
  reissue: z.literal("allow").optional(),
  /** Rows that leave the campaign keep their links (the campaign's `retainOnDelete`). */
  retainRemovedRows: z.boolean().optional(),
  /** External case id → row; the dynamic resource sends them packed (packed.ts), the plugin as a map. */
  rows: z.preprocess(
    (value) => (isPacked(value, PACKED_ROWS_HEADER) ? unpackRows(value) : value),
    z.record(fields.externalId("external case id"), LinkRowInput),
  ),
  /** The resource's place among the campaign's shards: `index` of `count` (absent: the only one). */
  shard: z.object({ index: z.int().min(0), count: z.int().min(1) }).optional(),
  /**
   * Where the rows came from when that was a CSV file, so messages name its
   * columns: the file's name (`IntakeCampaign`), or the plugin's file asset.
   */
  csvFile: z.unknown().optional(),
});
export type CampaignLinksInputs = z.infer<typeof CampaignLinksInputs>;

/** What state keeps for one row. `fp` fingerprints the fields whose change needs a new link. */
export interface LinkState {
  id: string;
  status: SessionStatus;
  fp: string;
  exp: string;
}

/** Counts per session status, as of the last `up` or `refresh`. */
export interface StatusSummary {
  total: number;
  open: number;
  completed: number;
  revoked: number;
  expired: number;
}

/** The outputs of the bulk resource. `signedUrls` is secret. */
export interface CampaignLinksOutputs {
  keyScope: string;
  caseTypeId: string;
  rotation?: string;
  sessions: Record<string, LinkState>;
  signedUrls: Record<string, string>;
  summary: StatusSummary;
  /** Replaced links whose revoke failed; retried by every later `up` and by `destroy`. */
  retiring?: string[];
  /**
   * A digest of the inputs the last `up` carried out in full (absent after a
   * partial failure, or once a refresh saw a link change): while the inputs
   * still have this digest, `diff` knows nothing is to do without reading a row.
   */
  applied?: string;
}

/** The digest {@link CampaignLinksOutputs.applied} holds: every input but the serialized provider, as the engine sends them. */
export function inputsDigest(raw: Record<string, unknown>): string {
  const hash = createHash("sha256");
  for (const key of Object.keys(raw).sort()) {
    if (key === "__provider") continue;
    const value = raw[key];
    hash.update(key).update("\u0000").update(typeof value === "string" ? value : stableJson(value)).update("\u0000");
  }
  return hash.digest("hex").slice(0, 24);
}

/** JSON with every object's keys sorted: the engine does not promise the order of a map's keys. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson(record[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** One row as it should be: the request to send and its fingerprint. */
export interface DesiredRow {
  caseId: string;
  /** The key scope `IntakeSession` would use for this row, so both modes derive the same keys. */
  scope: string;
  fields: SessionFields;
  fp: string;
  /** The campaign's rotation, which `fp` hashes too (links/fingerprint.ts hashes other spellings with it). */
  rotation: string | undefined;
}

/**
 * The request fields a row's `fp` hashes: those whose change needs a new
 * link (everything but the expiry), but the key (a row with another key is
 * another row). In table order (contract/request-fields.ts), which stored
 * fingerprints depend on: `case_type_id`, `external_applicant_id`,
 * `return_url`, `locale`, `trace_id`, then any field added later.
 */
export const REISSUING_FIELDS: readonly WireName[] = REQUEST_FIELD_LIST.filter((field) => field.reissues && field.campaign !== "key").map((field) => field.wire as WireName);

/**
 * How many values every fingerprint hashes: the rotation and the five fields
 * hashed since bulk campaigns began. A field added to the table later is
 * hashed only when some row sets it (trailing empty values are left out),
 * so adding a field changes no stored fingerprint.
 */
const FIRST_FINGERPRINT_VALUES = 6;

/** The name of the CSV file the rows came from (a name, or a file asset's path), if any. */
export function csvFileName(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as { path?: unknown }).path === "string") return (value as { path: string }).path;
  return undefined;
}

/** The effective request of every row: the row's own values, then the campaign's defaults. */
export function desiredRows(inputs: CampaignLinksInputs): Map<string, DesiredRow> {
  const out = new Map<string, DesiredRow>();
  // Canonical forms also for old inputs read back raw (the reissue guard's olds).
  const requestOf = campaignRequests(inputs, "wire");
  for (const [caseId, row] of Object.entries(inputs.rows)) {
    const fields = requestOf(caseId, row) as SessionFields;
    out.set(caseId, { caseId, scope: campaignRowName(inputs.keyScope, logicalNameFor(caseId)), fields, fp: fingerprint(fields, inputs.rotation), rotation: inputs.rotation });
  }
  return out;
}

/** What a fingerprint hashes: the rotation, then `REISSUING_FIELDS` in order ("" when absent), without trailing empty values past the first six. */
export function fingerprintValues(fields: SessionFields, rotation: string | undefined): string[] {
  const values = [rotation ?? "", ...REISSUING_FIELDS.map((name) => fields[name] ?? "")];
  while (values.length > FIRST_FINGERPRINT_VALUES && values[values.length - 1] === "") values.pop();
  return values;
}

/** A short hash of the fields whose change needs a new link, and of the rotation. */
export function fingerprint(fields: SessionFields, rotation: string | undefined): string {
  return hash("sha256", JSON.stringify(fingerprintValues(fields, rotation)), "hex").slice(0, 12);
}

/** Counts rows per status. */
export function summarize(sessions: Record<string, LinkState>): StatusSummary {
  return countStatuses(Object.values(sessions).map((row) => row.status));
}

/** Counts statuses; both campaign modes report their `summary` with it. */
export function countStatuses(statuses: readonly string[]): StatusSummary {
  const summary: StatusSummary = { total: 0, open: 0, completed: 0, revoked: 0, expired: 0 };
  for (const status of statuses) {
    summary.total++;
    if (status === "open" || status === "completed" || status === "revoked" || status === "expired") summary[status]++;
  }
  return summary;
}
