/**
 * @module
 * The one place the policy pack reads a bulk campaign's rows
 * (`IntakeCampaignLinks`) from its inputs. Every policy goes through
 * {@link campaignRowsOf}; when the package changes how it stores rows in the
 * resource's inputs (sharded or packed), this function follows, with the
 * package's own decoder, and no policy changes.
 *
 * The stored form today, for the dynamic provider and the plugin alike: the
 * input `rows`, a map from external case id to `{ applicant, locale?,
 * returnUrl? }` (provider/campaign/links/inputs.ts `LinkRowInput`). The
 * campaign's defaults (`returnUrl`, `expiresAt`, …) are inputs of their own.
 */
import { isObject, type Plain, textOf, UNKNOWN, type Unknown } from "./values";

/** One row of a bulk campaign as the policies see it: its own fields, before the campaign's defaults. */
export interface CampaignRowView {
  /** The row's external case id (the key of `rows`). */
  caseId: string;
  /** The path of the row in the inputs, for messages: `rows.<case id>`. */
  path: string;
  /** The row's own return URL; the campaign's `returnUrl` applies when absent. */
  returnUrl: string | Unknown | undefined;
}

/**
 * The rows of an `IntakeCampaignLinks` from its inputs (flat: the plugin's,
 * or the dynamic provider's, which add only `__provider` and `keyScope`), in
 * the order they were given; {@link UNKNOWN} when the rows are not known yet
 * (a preview whose rows come from another resource's outputs).
 */
export function campaignRowsOf(inputs: { [key: string]: Plain }): CampaignRowView[] | Unknown {
  const rows = inputs.rows;
  if (rows === UNKNOWN) return UNKNOWN;
  if (!isObject(rows)) return [];
  return Object.entries(rows).map(([caseId, row]) => ({
    caseId,
    path: `rows.${caseId}`,
    returnUrl: row === UNKNOWN ? UNKNOWN : isObject(row) ? textOf(row.returnUrl) : undefined,
  }));
}
