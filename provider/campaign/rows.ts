/**
 * @module
 * Campaign rows: reading a CSV or an array of applicants, and refusing every
 * bad row at once, with its line, before any API call.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { z } from "zod";
import * as pulumi from "@pulumi/pulumi";
import { expiryProblem, fields } from "../../contract/fields";
import { fieldProblems, unreadableFileReason } from "../../contract/messages";
import type { IntakeCampaignArgs } from "./component";

/** The row's fields under the names its source uses (CSV columns or program properties). */
const rowSchema = (names: { externalCaseId: string; externalApplicantId: string; locale: string; returnUrl: string }) =>
  z.object({
    externalCaseId: fields.externalId(names.externalCaseId),
    externalApplicantId: fields.externalId(names.externalApplicantId),
    locale: fields.locale(names.locale).optional(),
    returnUrl: fields.returnUrl(names.returnUrl).optional(),
  });

/** One applicant of a campaign: who gets a link, and per-row overrides. */
export const CampaignRow = rowSchema({ externalCaseId: "externalCaseId", externalApplicantId: "externalApplicantId", locale: "locale", returnUrl: "returnUrl" });
/** The same row as a CSV file spells it: problems name the CSV's columns. */
const CsvRow = rowSchema({ externalCaseId: "external_case_id", externalApplicantId: "external_applicant_id", locale: "locale", returnUrl: "return_url" });
/** Property → CSV column, for "X is required". */
const CSV_COLUMNS: Record<string, string> = { externalCaseId: "external_case_id", externalApplicantId: "external_applicant_id", locale: "locale", returnUrl: "return_url" };
export type CampaignRow = z.infer<typeof CampaignRow>;

/** A row with where it came from, for error messages. */
export interface SourcedRow extends CampaignRow {
  /** 1-based line in the CSV file (the header is line 1), or 1-based index in an array. */
  line: number;
}

/** CSV column names (snake_case, as in the API) and the camelCase spelling both work. */
const COLUMN_ALIASES: Record<string, keyof CampaignRow> = {
  external_case_id: "externalCaseId",
  externalcaseid: "externalCaseId",
  external_applicant_id: "externalApplicantId",
  externalapplicantid: "externalApplicantId",
  locale: "locale",
  return_url: "returnUrl",
  returnurl: "returnUrl",
};

/**
 * Raised before any API call when a campaign's rows or settings are invalid;
 * lists every problem with its line. A `pulumi.RunError`, so the Pulumi
 * output shows the message once, without a stack trace.
 */
export class CampaignRowsError extends pulumi.RunError {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} has ${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was sent to Klarefi:\n  - ${problems.join("\n  - ")}`);
    this.name = "CampaignRowsError";
  }
}

/** The campaign-wide settings, checked with the same rules as each row. */
const CampaignSettings = z.object({
  caseTypeId: fields.caseTypeId("caseTypeId"),
  locale: fields.locale("defaults.locale").optional(),
  returnUrl: fields.returnUrl("defaults.returnUrl").optional(),
  expiresAt: fields.timestamp("defaults.expiresAt").optional(),
  traceId: fields.traceId("defaults.traceId").optional(),
  rotation: fields.label("rotation").optional(),
});

/** Every problem of the campaign-wide settings, worded like the rows' problems (no line number). */
export function campaignSettingsProblems(args: Pick<IntakeCampaignArgs, "caseTypeId" | "defaults" | "rotation">, nowMs = Date.now()): string[] {
  const input = { caseTypeId: args.caseTypeId, rotation: args.rotation, ...args.defaults };
  const parsed = CampaignSettings.safeParse(input);
  const problems = parsed.success ? [] : fieldProblems(parsed.error, input).map((p) => p.message);
  const expiresAt = args.defaults?.expiresAt;
  if (parsed.success && expiresAt !== undefined) {
    const problem = expiryProblem("defaults.expiresAt", expiresAt, nowMs);
    if (problem !== undefined) problems.push(problem);
  }
  return problems;
}

/**
 * Reads campaign rows from CSV text with a header row. Columns
 * `external_case_id` and `external_applicant_id` are required; `locale` and
 * `return_url` are optional per-row overrides. Unknown columns are refused so
 * a typo does not silently drop data. Empty lines are skipped.
 */
export function parseCampaignCsv(csv: string, source = "campaign CSV"): SourcedRow[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(csv, { bom: true, info: true, skip_empty_lines: true, relax_column_count: false, trim: true }) as unknown as typeof records;
  } catch (error) {
    throw new CampaignRowsError(source, [error instanceof Error ? error.message : String(error)]);
  }
  const [header, ...body] = records;
  if (!header) throw new CampaignRowsError(source, ["the file is empty: expected a header row with external_case_id,external_applicant_id"]);
  const columns = header.record.map((name) => COLUMN_ALIASES[name.toLowerCase()]);
  const problems = header.record.flatMap((name, i) => (columns[i] ? [] : [`line 1: unknown column "${name}" (expected external_case_id, external_applicant_id, locale, return_url)`]));
  for (const required of ["externalCaseId", "externalApplicantId"] as const) {
    if (!columns.includes(required)) problems.push(`line 1: the header has no ${required === "externalCaseId" ? "external_case_id" : "external_applicant_id"} column`);
  }
  if (problems.length > 0) throw new CampaignRowsError(source, problems);
  const rows = body.map(({ record, info }) => {
    const row: Record<string, string | number> = { line: info.lines };
    record.forEach((value, i) => {
      const column = columns[i];
      if (column && value !== "") row[column] = value;
    });
    return row as Record<string, unknown> & { line: number };
  });
  return validateCampaignRows(rows, source, "csv");
}

/**
 * Validates rows (from code or CSV) and refuses duplicates, reporting every
 * problem with its line number at once.
 */
export function validateCampaignRows(
  rows: readonly (Record<string, unknown> & { line?: number })[],
  source = "campaign rows",
  spelling: "program" | "csv" = "program",
): SourcedRow[] {
  const schema = spelling === "csv" ? CsvRow : CampaignRow;
  const named = (message: string) => (spelling === "csv" ? message.replace(/^(\w+) is required$/, (m, key: string) => `${CSV_COLUMNS[key] ?? key} is required`) : message);
  const problems: string[] = [];
  const valid: SourcedRow[] = [];
  const firstLine = new Map<string, number>();
  const names = new Map<string, number>();
  rows.forEach((raw, index) => {
    const line = raw.line ?? index + 1;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      problems.push(`line ${line}: ${fieldProblems(parsed.error, raw).map((p) => named(p.message)).join("; ")}`);
      return;
    }
    const row = parsed.data;
    const earlier = firstLine.get(row.externalCaseId);
    if (earlier !== undefined) {
      problems.push(`line ${line}: external_case_id "${row.externalCaseId}" duplicates line ${earlier}`);
      return;
    }
    const name = logicalNameFor(row.externalCaseId);
    const clash = names.get(name);
    if (clash !== undefined) {
      problems.push(`line ${line}: external_case_id "${row.externalCaseId}" maps to the same resource name as line ${clash}`);
      return;
    }
    firstLine.set(row.externalCaseId, line);
    names.set(name, line);
    valid.push({ ...row, line });
  });
  if (problems.length > 0) throw new CampaignRowsError(source, problems);
  return valid;
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
export function campaignRows(args: Pick<IntakeCampaignArgs, "rows" | "csvFile" | "caseTypeId" | "defaults" | "rotation">): SourcedRow[] {
  const settings = campaignSettingsProblems(args);
  try {
    const rows = readCampaignRows(args);
    if (settings.length > 0) throw new CampaignRowsError(args.csvFile ?? "IntakeCampaign", settings);
    return rows;
  } catch (error) {
    if (!(error instanceof CampaignRowsError) || settings.length === 0 || error.problems === settings) throw error;
    throw new CampaignRowsError(error.source, [...settings, ...error.problems]);
  }
}

function readCampaignRows(args: Pick<IntakeCampaignArgs, "rows" | "csvFile">): SourcedRow[] {
  if ((args.rows === undefined) === (args.csvFile === undefined)) {
    throw new CampaignRowsError("IntakeCampaign", ["give exactly one of rows or csvFile"]);
  }
  if (args.csvFile !== undefined) {
    const file = path.resolve(args.csvFile);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new CampaignRowsError(args.csvFile, [`cannot read ${file}: ${unreadableFileReason(error)}`]);
    }
    return parseCampaignCsv(text, args.csvFile);
  }
  return validateCampaignRows(args.rows ?? []);
}

