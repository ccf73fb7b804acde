/**
 * @module
 * Campaign rows: reading a CSV or an array of applicants, and refusing every
 * bad row at once, with its line, before any API call.
 *
 * Every problem is a {@link RowProblem} (`{ line, column, message }`); the
 * sentences people read are built from them in one place
 * (`problemSentences`), and the plugin (provider/plugin/campaign.ts) maps the
 * same structure to the rows and properties a YAML or Python program names.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { z } from "zod";
import * as pulumi from "@pulumi/pulumi";
import { expiryProblem, fields } from "../../contract/fields";
import { type ByName, type CampaignName, campaignFields, columnShape, DEFAULT_FIELD_LIST, inputShape, REQUEST_FIELDS, ROW_FIELD_LIST } from "../../contract/request-fields";
import { fieldProblems, unreadableFileReason } from "../../contract/messages";

/**
 * The request fields of a row (contract/request-fields.ts): the key
 * (`externalCaseId`), then the row's own values (`externalApplicantId`,
 * `locale`, `returnUrl`) in the order of their CSV columns.
 */
const COLUMN_FIELDS = [...campaignFields("key"), ...ROW_FIELD_LIST];

/**
 * One applicant of a campaign: who gets a link, and per-row overrides. A
 * locale is sent in canonical case: `NL` → `nl`, `nl-nl` → `nl-NL`.
 */
export const CampaignRow = z.object(inputShape(COLUMN_FIELDS.map((field) => field.name) as CampaignName<"key" | "row" | "row or default">[]));
export type CampaignRow = z.infer<typeof CampaignRow>;

/** The same row as a CSV file spells it (snake_case, as in the API): problems name the CSV's columns. */
const CsvRow = z.object(columnShape(COLUMN_FIELDS));
/** The columns a campaign CSV must have. */
const REQUIRED_COLUMNS = COLUMN_FIELDS.filter((field) => field.required);

/** A row with where it came from, for error messages. */
export interface SourcedRow extends CampaignRow {
  /** 1-based line in the CSV file (the header is line 1; a row's first line), or 1-based index in an array. */
  line: number;
}

/** CSV column names (snake_case, as in the API) and the camelCase spelling (in any case) both work. */
const COLUMN_ALIASES: Record<string, string> = Object.fromEntries(
  COLUMN_FIELDS.flatMap((field) => [
    [field.wire, field.name],
    [field.name.toLowerCase(), field.name],
  ]),
);

/**
 * One problem of a campaign's rows or settings: where (`line`: the CSV line,
 * or the row's 1-based index in an array; absent for a campaign-wide
 * setting), which column or property (absent for a problem of the line's
 * layout), and what is wrong, as a sentence that names the field.
 */
export const RowProblem = z.object({
  line: z.number().int().positive().optional(),
  column: z.string().optional(),
  message: z.string(),
});
export type RowProblem = z.infer<typeof RowProblem>;

/**
 * The sentences of a list of problems, in order: `line 3: <message>`, the
 * messages of one line joined with "; " (a row with two bad fields is one
 * sentence), and a problem without a line as its message alone.
 */
export function problemSentences(problems: readonly RowProblem[]): string[] {
  const sentences: string[] = [];
  let previous: RowProblem | undefined;
  for (const problem of problems) {
    if (problem.line !== undefined && previous?.line === problem.line) {
      sentences[sentences.length - 1] += `; ${problem.message}`;
    } else {
      sentences.push(problem.line === undefined ? problem.message : `line ${problem.line}: ${problem.message}`);
    }
    previous = problem;
  }
  return sentences;
}

/**
 * Raised before any API call when a campaign's rows or settings are invalid;
 * lists every problem with its line. A `pulumi.RunError`, so the Pulumi
 * output shows the message once, without a stack trace. `details` holds the
 * problems as data; `problems` their sentences, as the message lists them.
 */
export class CampaignRowsError extends pulumi.RunError {
  /** The sentences of the message's list, one per line of the source. */
  readonly problems: string[];

  constructor(
    readonly source: string,
    readonly details: readonly RowProblem[],
  ) {
    const problems = problemSentences(details);
    super(`${source} has ${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was sent to Klarefi:\n  - ${problems.join("\n  - ")}`);
    this.name = "CampaignRowsError";
    this.problems = problems;
  }
}

/** What the rows of a campaign come from: exactly one of `rows` or `csvFile` (see `IntakeCampaignArgs`). */
export interface CampaignRowsSource {
  rows?: readonly CampaignRow[] | undefined;
  csvFile?: string | undefined;
}

/** The request fields a campaign has a default for: `locale`, `returnUrl`, `traceId`, `expiresAt` (contract/request-fields.ts). */
export type DefaultName = CampaignName<"row or default" | "default">;
const DEFAULT_NAMES = DEFAULT_FIELD_LIST.map((field) => field.name) as DefaultName[];
/** The campaign-wide defaults of the rows (see `IntakeCampaignArgs`). */
export type CampaignDefaults = ByName<string, DefaultName>;

/** The campaign-wide settings the rows are checked with (see `IntakeCampaignArgs`). */
export interface CampaignSettingsArgs extends ByName<string, CampaignName<"setting">> {
  defaults?: CampaignDefaults | undefined;
  rotation?: string | undefined;
}

/** The campaign-wide settings, checked with the same rules as each row; `prefix` names the defaults (`defaults.`). */
const campaignSettings = (prefix: string) =>
  z.object({
    ...inputShape(campaignFields("setting").map((field) => field.name)),
    ...inputShape(DEFAULT_NAMES, prefix),
    rotation: fields.label("rotation").optional(),
  });

/**
 * Every problem of the campaign-wide settings, worded like the rows'
 * problems (no line; `column` is the setting: `caseTypeId`, `locale`, …).
 * `defaultsPrefix` is how messages name a default: `defaults.` in a
 * TypeScript program (`defaults.locale`), nothing for the plugin's
 * `IntakeCampaignLinks`, where the defaults are top-level properties.
 */
export function campaignSettingsProblems(args: CampaignSettingsArgs, nowMs = Date.now(), defaultsPrefix = "defaults."): RowProblem[] {
  const input = { caseTypeId: args.caseTypeId, rotation: args.rotation, ...args.defaults };
  const parsed = campaignSettings(defaultsPrefix).safeParse(input);
  const problems: RowProblem[] = parsed.success ? [] : fieldProblems(parsed.error, input).map((p) => ({ column: p.field, message: p.message }));
  const expiresAt = args.defaults?.expiresAt;
  if (parsed.success && expiresAt !== undefined) {
    const problem = expiryProblem(`${defaultsPrefix}expiresAt`, expiresAt, nowMs);
    if (problem !== undefined) problems.push({ column: "expiresAt", message: problem });
  }
  return problems;
}

/** The columns a campaign CSV may have, for messages. */
const EXPECTED_COLUMNS = COLUMN_FIELDS.map((field) => field.wire).join(", ");

/** One record of a CSV file as the layout scan finds it: its first line and its text, without the line break. */
export interface CsvRecordText {
  line: number;
  text: string;
}

/**
 * Splits CSV text into records, following quotes (a quoted cell may hold
 * commas, doubled quotes and line breaks), and finds every quoting problem
 * at the line where it is: a quoted cell that is never closed (reported at
 * its opening quote, not at the end of the file, and the scan goes on at
 * the next line), text after a closing quote, and a quote inside an unquoted
 * cell. A record with a problem is left out. Blank lines are skipped; a BOM
 * is ignored. Pure; the cells of each record are then read by csv-parse.
 */
export function scanCsvRecords(csv: string): { records: CsvRecordText[]; problems: RowProblem[] } {
  const text = csv.startsWith("\uFEFF") ? csv.slice(1) : csv;
  const n = text.length;
  // Where each line starts (index 0 is line 1), to go on after an unclosed quote.
  const lineStarts = [0];
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) lineStarts.push(i + 1);
  }
  const records: CsvRecordText[] = [];
  const problems: RowProblem[] = [];
  let i = 0;
  let line = 1;
  /** Index of the end of the physical line at `at` (its line break, or the end). */
  const endOfLine = (at: number) => {
    let j = at;
    while (j < n && text[j] !== "\n" && text[j] !== "\r") j++;
    return j;
  };
  /** Moves `i` past the line break at `i`, if any, counting the line. */
  const skipBreak = () => {
    if (text[i] === "\r" && text[i + 1] === "\n") i += 2;
    else if (text[i] === "\n" || text[i] === "\r") i += 1;
    else return;
    line++;
  };
  while (i < n) {
    const start = i;
    const startLine = line;
    let fieldStart = true;
    let end = -1;
    let bad = false;
    while (i < n) {
      const c = text[i];
      if (c === '"' && fieldStart) {
        const openLine = line;
        i++;
        let closed = false;
        while (i < n) {
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              i += 2;
              continue;
            }
            closed = true;
            i++;
            break;
          }
          if (text[i] === "\n" || (text[i] === "\r" && text[i + 1] !== "\n")) line++;
          i++;
        }
        if (!closed) {
          problems.push({ line: openLine, message: "a quoted cell is not closed" });
          bad = true;
          // Most likely the quote was meant to close on its own line: go on with the next one.
          line = openLine + 1;
          i = lineStarts[openLine] ?? n;
          break;
        }
        while (i < n && (text[i] === " " || text[i] === "\t")) i++;
        if (i < n && text[i] !== "," && text[i] !== "\n" && text[i] !== "\r") {
          problems.push({ line, message: 'a quoted cell has text after its closing quote (inside quotes, write a quote as "")' });
          bad = true;
          i = endOfLine(i);
          skipBreak();
          break;
        }
        fieldStart = false;
        continue;
      }
      if (c === ",") {
        fieldStart = true;
        i++;
        continue;
      }
      if (c === "\n" || c === "\r") {
        end = i;
        skipBreak();
        break;
      }
      if (c === '"') {
        problems.push({ line, message: 'a quote inside an unquoted cell (put the whole cell in quotes and write the quote as "")' });
        bad = true;
        i = endOfLine(i);
        skipBreak();
        break;
      }
      if (c !== " " && c !== "\t") fieldStart = false;
      i++;
    }
    if (bad) continue;
    const record = text.slice(start, end < 0 ? i : end);
    if (record.trim() !== "") records.push({ line: startLine, text: record });
  }
  return { records, problems };
}

/**
 * The cells of each record, trimmed, read by csv-parse in one pass: the
 * records' quotes are sound (the scan left out every record with a quoting
 * problem) and none is blank, so csv-parse reads one record per record.
 */
function cellsOf(records: readonly CsvRecordText[]): string[][] {
  if (records.length === 0) return [];
  const parsed = parse(records.map((r) => r.text).join("\n"), { relax_column_count: true, trim: true, bom: false, skip_empty_lines: false }) as string[][];
  if (parsed.length !== records.length) throw new Error(`CSV scan found ${records.length} records where csv-parse read ${parsed.length}`);
  return parsed;
}

/**
 * Reads campaign rows from CSV text with a header row. Columns
 * `external_case_id` and `external_applicant_id` are required; `locale` and
 * `return_url` are optional per-row overrides. Unknown columns are refused so
 * a typo does not silently drop data. Empty lines are skipped. Every problem
 * is reported at once, with its line: the layout (a quote not closed, a row
 * with more or fewer cells than the header has columns) and then, when the
 * header is sound, every field of every row.
 */
export function parseCampaignCsv(csv: string, source = "campaign CSV"): SourcedRow[] {
  const scan = scanCsvRecords(csv);
  const cells = cellsOf(scan.records);
  const [header, ...body] = scan.records.map((record, i) => ({ line: record.line, cells: cells[i] ?? [] }));
  if (!header) {
    const empty: RowProblem = { message: `the file is empty: expected a header row with ${REQUIRED_COLUMNS.map((field) => field.wire).join(",")}` };
    throw new CampaignRowsError(source, scan.problems.length > 0 ? scan.problems : [empty]);
  }
  // A quoting problem before the first record read is in the header itself.
  if (scan.problems.some((p) => (p.line ?? 0) < header.line)) throw new CampaignRowsError(source, scan.problems);
  const columns = header.cells.map((name) => COLUMN_ALIASES[name.toLowerCase()]);
  const headerProblems: RowProblem[] = [];
  header.cells.forEach((name, i) => {
    const column = columns[i];
    if (!column) headerProblems.push({ line: header.line, column: name, message: `unknown column "${name}" (expected ${EXPECTED_COLUMNS})` });
    else if (columns.indexOf(column) < i) headerProblems.push({ line: header.line, column: name, message: `column "${name}" appears twice` });
  });
  for (const required of REQUIRED_COLUMNS) {
    if (!columns.includes(required.name)) headerProblems.push({ line: header.line, message: `the header has no ${required.wire} column` });
  }
  // With a bad header the rows cannot be read by it: report the header and the quoting, by line.
  if (headerProblems.length > 0) throw new CampaignRowsError(source, byLine([...headerProblems, ...scan.problems]));
  const layout: RowProblem[] = [...scan.problems];
  const rows: (Record<string, unknown> & { line: number })[] = [];
  for (const { line, cells } of body) {
    if (cells.length !== columns.length) {
      const count = `${cells.length} cell${cells.length === 1 ? "" : "s"}`;
      layout.push({ line, message: `${count}, the header has ${columns.length} column${columns.length === 1 ? "" : "s"}` });
      continue;
    }
    const row: Record<string, unknown> & { line: number } = { line };
    cells.forEach((value, i) => {
      const column = columns[i];
      if (column && value !== "") row[column] = value;
    });
    rows.push(row);
  }
  let fieldProblemsOfRows: readonly RowProblem[] = [];
  let valid: SourcedRow[] = [];
  try {
    valid = validateCampaignRows(rows, source, "csv");
  } catch (error) {
    if (!(error instanceof CampaignRowsError)) throw error;
    fieldProblemsOfRows = error.details;
  }
  if (layout.length > 0 || fieldProblemsOfRows.length > 0) throw new CampaignRowsError(source, byLine([...layout, ...fieldProblemsOfRows]));
  return valid;
}

/** Problems in the order of their lines (stable: a line's problems keep their order). */
function byLine(problems: readonly RowProblem[]): RowProblem[] {
  return [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/**
 * Validates rows (from code or CSV) and refuses duplicates, reporting every
 * problem with its line number at once. `spelling` names the fields as the
 * source does: the program's properties (`externalApplicantId`) or the CSV's
 * columns (`external_applicant_id`).
 */
export function validateCampaignRows(
  rows: readonly (Record<string, unknown> & { line?: number })[],
  source = "campaign rows",
  spelling: "program" | "csv" = "program",
): SourcedRow[] {
  const problems: RowProblem[] = [];
  const valid: SourcedRow[] = [];
  const firstLine = new Map<string, number>();
  const names = new Map<string, number>();
  const caseIdColumn = spelling === "csv" ? REQUEST_FIELDS.externalCaseId.wire : "externalCaseId";
  rows.forEach((raw, index) => {
    const line = raw.line ?? index + 1;
    const parsed = parseRow(raw, spelling);
    if (!parsed.success) {
      for (const p of parsed.problems) problems.push({ line, column: p.field, message: p.message });
      return;
    }
    const row = parsed.row;
    const earlier = firstLine.get(row.externalCaseId);
    if (earlier !== undefined) {
      problems.push({ line, column: caseIdColumn, message: `external_case_id "${row.externalCaseId}" duplicates line ${earlier}` });
      return;
    }
    const name = logicalNameFor(row.externalCaseId);
    const clash = names.get(name);
    if (clash !== undefined) {
      problems.push({ line, column: caseIdColumn, message: `external_case_id "${row.externalCaseId}" maps to the same resource name as line ${clash}` });
      return;
    }
    firstLine.set(row.externalCaseId, line);
    names.set(name, line);
    valid.push({ ...row, line });
  });
  if (problems.length > 0) throw new CampaignRowsError(source, problems);
  return valid;
}

/** One row checked under the names its source uses; problems name those fields. */
function parseRow(
  raw: Record<string, unknown>,
  spelling: "program" | "csv",
): { success: true; row: CampaignRow } | { success: false; problems: { field: string; message: string }[] } {
  if (spelling === "program") {
    const parsed = CampaignRow.safeParse(raw);
    return parsed.success ? { success: true, row: parsed.data } : { success: false, problems: fieldProblems(parsed.error, raw) };
  }
  const input = Object.fromEntries(COLUMN_FIELDS.map((field) => [field.wire, raw[field.name]]));
  const parsed = CsvRow.safeParse(input);
  if (!parsed.success) return { success: false, problems: fieldProblems(parsed.error, input) };
  const checked = parsed.data as Record<string, string | undefined>;
  const row = Object.fromEntries(COLUMN_FIELDS.filter((field) => checked[field.wire] !== undefined).map((field) => [field.name, checked[field.wire]]));
  return { success: true, row: row as CampaignRow };
}

/** The resource name suffix for a case: stable, so editing one row touches only that row. */
export function logicalNameFor(externalCaseId: string): string {
  return externalCaseId.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/**
 * The rows of a campaign from its arguments (exactly one of `rows` or
 * `csvFile`), after checking the campaign-wide settings: every problem of
 * both is reported in one error.
 */
export function campaignRows(args: CampaignRowsSource & CampaignSettingsArgs): SourcedRow[] {
  const settings = campaignSettingsProblems(args);
  try {
    const rows = readCampaignRows(args);
    if (settings.length > 0) throw new CampaignRowsError(args.csvFile ?? "IntakeCampaign", settings);
    return rows;
  } catch (error) {
    if (!(error instanceof CampaignRowsError) || settings.length === 0 || error.details === settings) throw error;
    throw new CampaignRowsError(error.source, [...settings, ...error.details]);
  }
}

/**
 * The rows of a CSV file, read relative to the working directory; a file
 * that cannot be read is a problem of the campaign, not a crash. `source`
 * names the file in messages (default: as given).
 */
export function readCampaignCsvFile(csvFile: string, source: string = csvFile): SourcedRow[] {
  const file = path.resolve(csvFile);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CampaignRowsError(source, [{ message: `cannot read ${file}: ${unreadableFileReason(error)}` }]);
  }
  return parseCampaignCsv(text, source);
}

function readCampaignRows(args: CampaignRowsSource): SourcedRow[] {
  if ((args.rows === undefined) === (args.csvFile === undefined)) {
    throw new CampaignRowsError("IntakeCampaign", [{ message: "give exactly one of rows or csvFile" }]);
  }
  if (args.csvFile !== undefined) return readCampaignCsvFile(args.csvFile);
  return validateCampaignRows(args.rows ?? []);
}
