/**
 * @module
 * The one place the policy pack reads a bulk campaign's rows
 * (`IntakeCampaignLinks`) from its inputs. Every policy goes through
 * {@link campaignRowsOf}; when the package changes how it stores rows in the
 * resource's inputs (sharded or packed), this function follows, with the
 * package's own decoder, and no policy changes.
 *
 * The stored forms: the plugin's input `rows` is a map from external case id
 * to `{ applicant, locale?, returnUrl? }` (provider/campaign/links/inputs.ts
 * `LinkRowInput`); the dynamic provider's is the same rows packed into one
 * string (provider/campaign/links/packed.ts), read with the package's own
 * decoder. A campaign spread over shards is one resource per shard, each
 * read on its own. The campaign's defaults (`returnUrl`, `expiresAt`, …) are
 * inputs of their own.
 */
import { isPacked, PACKED_ROWS_HEADER, unpackRows } from "../../provider/campaign/links/packed";
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
  const stored = inputs.rows;
  if (stored === UNKNOWN) return UNKNOWN;
  const rows = isPacked(stored, PACKED_ROWS_HEADER) ? (unpackRows(stored) as Plain) : stored;
  if (!isObject(rows)) return [];
  return Object.entries(rows).map(([caseId, row]) => ({
    caseId,
    path: `rows.${caseId}`,
    returnUrl: row === UNKNOWN ? UNKNOWN : isObject(row) ? textOf(row.returnUrl) : undefined,
  }));
}
