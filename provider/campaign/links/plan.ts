/**
 * @module
 * The pure policies of the bulk campaign: what an `up` does to each row, and
 * the guard that refuses to revoke mailed links nobody asked to revoke.
 *
 * A row's link is only ever replaced when a field sent to the API other than
 * the expiry changes, and then only on request (`reissue: "allow"` or a new
 * `rotation`). An applicant who already completed the intake keeps the
 * session through any change but a rotation. A new expiry moves the open
 * link's deadline in place.
 */
import type { CampaignLinksInputs, DesiredRow, LinkState } from "./inputs";
import { reissueMessage } from "../../reissue";
import { sameSecond } from "../../session-ops";
import { fingerprintMatches } from "./fingerprint";
import { csvFileName, desiredRows, REISSUING_FIELDS } from "./inputs";
import { programName, ROW_FIELD_LIST } from "../../../contract/request-fields";

/** What an `up` does, row by row. Every list holds external case ids. */
export interface CampaignPlan {
  /** No session yet: create one. */
  create: string[];
  /** A field that needs a new link changed: create the new link, then revoke the old one. */
  reissue: string[];
  /** Only the expiry moved and the link is open: move its deadline in place. */
  extend: string[];
  /** A field changed but the applicant already completed: keep the session, record the new inputs. */
  keepCompleted: string[];
  /** The row left the campaign: revoke its link. */
  revoke: string[];
  /** The row left the campaign and its link is kept (or already closed): drop it from state only. */
  forget: string[];
}

/** The counts of a plan, for messages. */
export function planSize(plan: CampaignPlan): number {
  return plan.create.length + plan.reissue.length + plan.extend.length + plan.keepCompleted.length + plan.revoke.length + plan.forget.length;
}

/**
 * Decides what happens to every row. `rotated` is true when the campaign's
 * `rotation` changed: then completed sessions are reissued too, on purpose.
 */
export function planCampaign(
  state: Readonly<Record<string, LinkState>>,
  desired: ReadonlyMap<string, DesiredRow>,
  options: { rotated: boolean; retainRemovedRows: boolean },
): CampaignPlan {
  const plan: CampaignPlan = { create: [], reissue: [], extend: [], keepCompleted: [], revoke: [], forget: [] };
  for (const [caseId, row] of desired) {
    const current = state[caseId];
    if (current === undefined) plan.create.push(caseId);
    else if (!fingerprintMatches(current.fp, row.fp, row.fields, row.rotation)) {
      if (current.status === "completed" && !options.rotated) plan.keepCompleted.push(caseId);
      else plan.reissue.push(caseId);
    } else if (current.status === "open" && row.fields.expires_at !== undefined && !sameSecond(current.exp, row.fields.expires_at)) {
      plan.extend.push(caseId);
    }
  }
  for (const [caseId, current] of Object.entries(state)) {
    if (desired.has(caseId)) continue;
    const closed = current.status === "revoked" || current.status === "expired";
    (options.retainRemovedRows || closed ? plan.forget : plan.revoke).push(caseId);
  }
  return plan;
}

/**
 * The fields whose change needs a new link, between the old and the new
 * inputs, as the user wrote them: program names (`locale`), or the CSV's
 * columns (`external_applicant_id`) for a row's own values when the campaign
 * came from a CSV file. `check` works this out (it sees the old inputs);
 * {@link reissueRefusal} uses it for its sentence.
 */
export function reissuingFieldChanges(olds: Partial<CampaignLinksInputs>, news: CampaignLinksInputs): string[] {
  if (olds.rows === undefined || olds.keyScope === undefined || olds.caseTypeId === undefined) return [];
  const before = desiredRows(olds as CampaignLinksInputs);
  const changed = new Set<string>();
  for (const [caseId, row] of desiredRows(news)) {
    const old = before.get(caseId);
    if (old === undefined || old.fp === row.fp) continue;
    for (const name of REISSUING_FIELDS) {
      if ((old.fields[name] ?? "") === (row.fields[name] ?? "")) continue;
      // A row's own field: the bulk row's property, and the CSV's column (its wire name).
      const own = ROW_FIELD_LIST.find((field) => field.wire === name)?.row.name;
      const rowValue = (rows: Readonly<Record<string, object>>) => (rows[caseId] as Record<string, unknown> | undefined)?.[own ?? ""] ?? "";
      const fromRow = own !== undefined && rowValue(olds.rows) !== rowValue(news.rows);
      const csv = csvFileName(news.csvFile);
      changed.add(fromRow && csv !== undefined ? `${name} in ${csv}` : programName(name));
    }
  }
  return [...changed];
}

/**
 * The mass-replacement guard, run by `diff` on the recorded links (before
 * any API call, so `pulumi preview` shows it). Only rows that hold a live
 * link count: a row whose first create failed, or whose link is already
 * closed, loses nothing, and a change that reissues no live link is never
 * refused. Unless the user asked for it (`reissue: "allow"`, or a new
 * `rotation`), a change that would replace live links is refused with the
 * count and the fields that caused it.
 */
export function reissueRefusal(
  state: Readonly<Record<string, LinkState>>,
  plan: Pick<CampaignPlan, "reissue">,
  options: { allowed: boolean; fields: readonly string[] },
): string | undefined {
  if (options.allowed) return undefined;
  const live = plan.reissue.filter((caseId) => state[caseId]?.status === "open");
  return live.length === 0 ? undefined : reissueMessage(live, options.fields);
}
