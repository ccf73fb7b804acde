/**
 * @module
 * The mail-merge file, in one place: its columns, the writer a campaign's
 * `pulumi up` uses (`mailMergeFile`) and the reader of the CLI's bulk
 * commands (`klarefi sessions status|revoke --from-csv`).
 *
 * The file is a contract between two parts of the package, as the wire
 * schemas are between the client and the API, so it lives beside them: the
 * provider and the CLI both import it, and neither imports the other. Reading
 * never throws for a bad file: it returns the problem as a sentence, and each
 * caller words it as its own kind of error (the CLI: a usage error).
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { z } from "zod";
import { fields } from "./fields";
import { fieldProblems, unreadableFileReason } from "./messages";

/** The columns, in order. The reader needs only `session_id`. */
export const MAIL_MERGE_COLUMNS = ["external_case_id", "external_applicant_id", "session_id", "signed_url", "locale", "expires_at"] as const;

/** One line the writer puts in the file. */
export interface MailMergeRow {
  externalCaseId: string;
  externalApplicantId: string;
  sessionId: string;
  signedUrl: string;
  locale?: string | undefined;
  expiresAt?: string | undefined;
}

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

/** What `pulumi up` logs after writing the file: `Wrote 2,000 links to /abs/links.csv (mode 0600: it holds live links)`. */
export function mailMergeWritten(file: string, rows: number): string {
  return `Wrote ${rows.toLocaleString("en-US")} link${rows === 1 ? "" : "s"} to ${file} (mode 0600: it holds live links)`;
}

/** One row of a mail-merge file as the reader gives it: the session, where it is, and never the signed URL. */
export interface MailMergeEntry {
  /** 1-based line in the file (the header is line 1). */
  line: number;
  sessionId: string;
  externalCaseId?: string;
  externalApplicantId?: string;
}

/** What reading a mail-merge file gives: its rows, or the one sentence that says why it cannot be used. */
export type MailMergeRead = { ok: true; rows: MailMergeEntry[] } | { ok: false; problem: string };

const Entry = z.object({
  session_id: fields.sessionId("session_id"),
  external_case_id: z.string().optional(),
  external_applicant_id: z.string().optional(),
});

/**
 * Reads `file` (relative paths resolve against the working directory, and
 * problems name the full path). Needs a header with a `session_id` column;
 * the other columns are optional. Every bad row is reported at once, with
 * its line.
 */
export function readMailMerge(file: string): MailMergeRead {
  const full = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (error) {
    return { ok: false, problem: `cannot read ${full}: ${unreadableFileReason(error)}` };
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, info: true, skip_empty_lines: true, trim: true }) as unknown as typeof records;
  } catch (error) {
    return { ok: false, problem: `${full} is not a readable CSV file: ${error instanceof Error ? error.message : String(error)}` };
  }
  const [header, ...body] = records;
  const columns = header?.record.map((name) => name.toLowerCase()) ?? [];
  if (!columns.includes("session_id")) {
    return { ok: false, problem: `${full} has no session_id column: give the mail-merge file a campaign wrote (mailMergeFile)` };
  }
  const problems: string[] = [];
  const rows: MailMergeEntry[] = [];
  for (const { record, info } of body) {
    const raw: Record<string, string> = {};
    record.forEach((value, i) => {
      const column = columns[i];
      if (column !== undefined && value !== "") raw[column] = value;
    });
    const parsed = Entry.safeParse(raw);
    if (!parsed.success) {
      problems.push(`line ${info.lines}: ${fieldProblems(parsed.error, raw).map((p) => p.message).join("; ")}`);
      continue;
    }
    rows.push({
      line: info.lines,
      sessionId: parsed.data.session_id,
      ...(parsed.data.external_case_id === undefined ? {} : { externalCaseId: parsed.data.external_case_id }),
      ...(parsed.data.external_applicant_id === undefined ? {} : { externalApplicantId: parsed.data.external_applicant_id }),
    });
  }
  if (problems.length > 0) {
    return { ok: false, problem: `${full} has ${problems.length} invalid row${problems.length === 1 ? "" : "s"}, nothing was sent: ${problems.join("; ")}` };
  }
  return { ok: true, rows };
}
