/**
 * @module
 * Reading a campaign's mail-merge file for the bulk commands
 * (`klarefi sessions status|revoke --from-csv`): the `session_id` of every
 * row, with its line and case reference for messages, checked with the
 * contract's session id rule. Signed URLs in the file are never kept.
 */
import { readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { z } from "zod";
import { fields } from "../contract/fields";
import { fieldProblems } from "../contract/messages";
import { UsageError } from "./io";

/** One row of a mail-merge file, as the bulk commands use it. */
export interface MailMergeRow {
  /** 1-based line in the file (the header is line 1). */
  line: number;
  sessionId: string;
  externalCaseId?: string;
  externalApplicantId?: string;
}

const Row = z.object({
  session_id: fields.sessionId("session_id"),
  external_case_id: z.string().optional(),
  external_applicant_id: z.string().optional(),
});

/**
 * Reads `file`. Needs a header with a `session_id` column; other columns
 * (external_case_id, external_applicant_id, signed_url, locale, expires_at, …)
 * are optional. Every bad row is reported at once, as a usage error of
 * `command`, before any API call.
 */
export function readMailMerge(file: string, command: string): MailMergeRow[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, command);
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, info: true, skip_empty_lines: true, trim: true }) as unknown as typeof records;
  } catch (error) {
    throw new UsageError(`${file} is not a readable CSV file: ${error instanceof Error ? error.message : String(error)}`, command);
  }
  const [header, ...body] = records;
  const columns = header?.record.map((name) => name.toLowerCase()) ?? [];
  if (!columns.includes("session_id")) {
    throw new UsageError(`${file} has no session_id column: give the mail-merge file a campaign wrote (mailMergeFile)`, command);
  }
  const problems: string[] = [];
  const rows: MailMergeRow[] = [];
  for (const { record, info } of body) {
    const raw: Record<string, string> = {};
    record.forEach((value, i) => {
      const column = columns[i];
      if (column !== undefined && value !== "") raw[column] = value;
    });
    const parsed = Row.safeParse(raw);
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
    throw new UsageError(`${file} has ${problems.length} invalid row${problems.length === 1 ? "" : "s"}, nothing was sent: ${problems.join("; ")}`, command);
  }
  return rows;
}

/**
 * Runs `task` for every item with at most `limit` running at once. Stops
 * starting new ones after the first failure, aborts `controller` so calls in
 * flight give up, and rejects with that first failure.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  controller: AbortController,
  task: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}
