/**
 * @module
 * The opt-in mail-merge export: the campaign's live links in a CSV file that
 * only its owner can read, safe to open in a spreadsheet.
 */
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { stringify } from "csv-stringify/sync";

/** One line of the mail-merge file. */
export interface MailMergeRow {
  externalCaseId: string;
  externalApplicantId: string;
  sessionId: string;
  signedUrl: string;
  locale?: string | undefined;
  expiresAt?: string | undefined;
}

/** The columns, in order; `klarefi sessions status|revoke --from-csv` read `session_id`. */
export const MAIL_MERGE_COLUMNS = ["external_case_id", "external_applicant_id", "session_id", "signed_url", "locale", "expires_at"] as const;

/**
 * Writes the mail-merge CSV atomically with mode 0600 and returns its path.
 * Cells that a spreadsheet would run as a formula (starting `=`, `+`, `-`,
 * `@`, tab or carriage return), such as an `external_case_id` taken from a
 * user's CSV, are neutralised with a leading quote.
 */
export function writeMailMerge(file: string, rows: readonly MailMergeRow[]): string {
  const text = stringify(
    rows.map((r) => [r.externalCaseId, r.externalApplicantId, r.sessionId, r.signedUrl, r.locale ?? "", r.expiresAt ?? ""]),
    { header: true, columns: [...MAIL_MERGE_COLUMNS], escape_formulas: true, record_delimiter: "unix" },
  );
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}
