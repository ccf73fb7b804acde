/**
 * @module
 * The packed form in which the dynamic provider keeps a bulk campaign in the
 * engine: one string for the rows (an input), one for the links' state and
 * one secret string for the signed URLs (outputs), instead of maps with a
 * nested value per row.
 *
 * Why: the engine serializes, diffs and checkpoints every property value on
 * every step. A map of 100,000 nested objects costs that 100,000 times per
 * step, even for a step that changes one row or nothing; a string costs one
 * comparison. Measured in docs/campaigns.md ("Scale").
 *
 * Every line is a JSON array, so any character of an external id survives,
 * and the lines are sorted by external case id, so that `pulumi preview
 * --diff` shows a changed row as a changed line (every line ends in a
 * newline, so an added last row does not show its neighbour as changed).
 * The provider also logs the rows that change by name from `diff`.
 *
 * The links and the signed URLs are kept deflated (`klarefi-links/1 deflate`,
 * then the same lines deflated and in base64): they are outputs, and the
 * engine copies every output byte several times a step (the checkpoint, and
 * the debug log of the program's registration, which holds the whole
 * response). Deflated they take about half the bytes: their random parts
 * (session ids, signatures) stay, the repeated ones (case id prefixes,
 * expiries, the URL's query) mostly go. The rows stay readable: they are the
 * input `pulumi preview --diff` shows. The readable form of earlier versions
 * is read as before.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { type ByRowName, ROW_FIELD_LIST } from "../../../contract/request-fields";
import type { SessionStatus } from "../../../contract/schemas";

/** One row's own values, as `IntakeCampaignLinks` takes them (absent = the campaign's default). */
export type PackedRowInput = ByRowName<string>;

/** What state keeps for one row; `fp` fingerprints the fields whose change needs a new link. */
export interface PackedLinkState {
  id: string;
  status: SessionStatus;
  fp: string;
  exp: string;
}

const STATUS_CODE: Record<SessionStatus, string> = { open: "o", completed: "c", revoked: "r", expired: "e" };
const STATUS_OF: Record<string, SessionStatus> = { o: "open", c: "completed", r: "revoked", e: "expired" };

/** Marks a packed value, so state written by earlier versions (maps) is told apart. */
export const PACKED_ROWS_HEADER = "klarefi-rows/1";
export const PACKED_LINKS_HEADER = "klarefi-links/1";
export const PACKED_URLS_HEADER = "klarefi-urls/1";

function sortedKeys(record: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Follows a header when the lines after it are deflated and in base64. */
const DEFLATED = " deflate";

/** The readable packed `text` (header, then lines) as its deflated form. */
function deflated(text: string, header: string): string {
  return `${header}${DEFLATED}\n${deflateRawSync(text.slice(header.length + 1)).toString("base64")}`;
}

/**
 * The readable form (header, then one JSON line per row) of a packed value,
 * deflated or not: what to look at when reading a stack's state by hand.
 */
export function readablePacked(text: string, header: string): string {
  const mark = `${header}${DEFLATED}\n`;
  if (!text.startsWith(mark)) return text;
  return `${header}\n${inflateRawSync(Buffer.from(text.slice(mark.length), "base64")).toString("utf8")}`;
}

function lines(packed: string, header: string, what: string): string[] {
  const all = readablePacked(packed, header).split("\n");
  if (all[0] !== header) throw new Error(`The campaign's ${what} are not in the packed form this version reads (expected a first line "${header}").`);
  return all.slice(1).filter((line) => line !== "");
}

function parseLine(line: string, what: string): unknown[] {
  const value = JSON.parse(line) as unknown;
  if (!Array.isArray(value)) throw new Error(`A line of the campaign's ${what} is not a JSON array: ${line.slice(0, 80)}`);
  return value;
}

/** Whether a value is a packed string of this module (any of the three kinds). */
export function isPacked(value: unknown, header: string): value is string {
  return typeof value === "string" && (value === header || value.startsWith(`${header}\n`) || value.startsWith(`${header}${DEFLATED}\n`));
}

/**
 * Rows → one string: `["caseId","applicant","locale","returnUrl"]` per line
 * (the row fields in the order of their cells, contract/request-fields.ts),
 * trailing absent values left out: a row field added later changes no line
 * of a row that does not set it.
 */
export function packRows(rows: Readonly<Record<string, PackedRowInput>>): string {
  const out = [PACKED_ROWS_HEADER];
  for (const caseId of sortedKeys(rows)) {
    const row = rows[caseId] as Readonly<Record<string, string | undefined>>;
    const cells: (string | null)[] = [caseId, ...ROW_FIELD_LIST.map((field) => row[field.row.name] ?? null)];
    while (cells.length > 2 && cells[cells.length - 1] === null) cells.pop();
    out.push(JSON.stringify(cells));
  }
  return `${out.join("\n")}\n`;
}

/**
 * A packed string → rows, as plain values for the schema to check. Lines
 * that are not arrays, or that repeat a case id, are reported by the
 * schema's own rules (a duplicate makes the row an error value).
 */
export function unpackRows(text: string): Record<string, unknown> {
  const rows: Record<string, unknown> = {};
  for (const line of lines(text, PACKED_ROWS_HEADER, "rows")) {
    const [caseId, ...cells] = parseLine(line, "rows");
    if (typeof caseId !== "string") throw new Error(`A line of the campaign's rows has no external case id: ${line.slice(0, 80)}`);
    if (caseId in rows) throw new Error(`The campaign's rows name ${caseId} twice.`);
    const row: Record<string, unknown> = {};
    ROW_FIELD_LIST.forEach((field, i) => {
      const value = cells[i];
      // A required cell is kept even when absent, for the schema to name it.
      if (field.required || (value !== null && value !== undefined)) row[field.row.name] = value;
    });
    rows[caseId] = row;
  }
  return rows;
}

/** Links' state → one string: `["caseId","ses_…","o","fp",expirySeconds]` per line. */
export function packLinks(sessions: Readonly<Record<string, PackedLinkState>>): string {
  const out = [PACKED_LINKS_HEADER];
  for (const caseId of sortedKeys(sessions)) {
    const s = sessions[caseId] as PackedLinkState;
    const seconds = Date.parse(s.exp) / 1000;
    out.push(JSON.stringify([caseId, s.id, STATUS_CODE[s.status] ?? s.status, s.fp, Number.isInteger(seconds) ? seconds : s.exp]));
  }
  return deflated(`${out.join("\n")}\n`, PACKED_LINKS_HEADER);
}

/** The inverse of {@link packLinks}. */
export function unpackLinks(text: string): Record<string, PackedLinkState> {
  const sessions: Record<string, PackedLinkState> = {};
  for (const line of lines(text, PACKED_LINKS_HEADER, "links")) {
    const [caseId, id, status, fp, exp] = parseLine(line, "links") as [string, string, string, string, number | string];
    sessions[caseId] = {
      id,
      status: STATUS_OF[status] ?? (status as SessionStatus),
      fp,
      exp: typeof exp === "number" ? new Date(exp * 1000).toISOString().replace(".000Z", "Z") : exp,
    };
  }
  return sessions;
}

/** Stands for the session id inside a templated URL: a space, which a URL never holds raw (one that does is kept as it is). */
const ID_MARK = " ";

/**
 * Signed URLs → one string, in the order of {@link packLinks} (by case id).
 * A URL names its session, which the links already hold: that part is
 * replaced by a mark, and the prefix every URL then shares is written once.
 * About 80 bytes a link before encryption instead of about 150.
 */
export function packUrls(urls: Readonly<Record<string, string>>, sessions: Readonly<Record<string, { id: string }>>): string {
  const caseIds = sortedKeys(urls);
  const templated = caseIds.map((caseId) => {
    const url = urls[caseId] as string;
    const id = sessions[caseId]?.id;
    return id !== undefined && id !== "" && !url.includes(ID_MARK) ? url.split(id).join(ID_MARK) : url;
  });
  const raw = caseIds.map((caseId, i) => templated[i] === urls[caseId] && urls[caseId]?.includes(ID_MARK) === true);
  let prefix = templated[0] ?? "";
  for (const t of templated) {
    let n = 0;
    while (n < prefix.length && n < t.length && prefix.charCodeAt(n) === t.charCodeAt(n)) n++;
    prefix = prefix.slice(0, n);
    if (prefix === "") break;
  }
  const out = [PACKED_URLS_HEADER, JSON.stringify(prefix)];
  caseIds.forEach((caseId, i) => {
    const url = urls[caseId] as string;
    out.push(JSON.stringify(raw[i] ? [caseId, url, 0] : [caseId, (templated[i] as string).slice(prefix.length)]));
  });
  return deflated(`${out.join("\n")}\n`, PACKED_URLS_HEADER);
}

/** The inverse of {@link packUrls}; needs the links for the session ids. */
export function unpackUrls(text: string, sessions: Readonly<Record<string, { id: string }>>): Record<string, string> {
  const [prefixLine, ...rest] = lines(text, PACKED_URLS_HEADER, "signed URLs");
  const prefix = prefixLine === undefined ? "" : (JSON.parse(prefixLine) as string);
  const urls: Record<string, string> = {};
  for (const line of rest) {
    const [caseId, tail, templated] = parseLine(line, "signed URLs") as [string, string, number | undefined];
    const id = sessions[caseId]?.id ?? "";
    urls[caseId] = templated === 0 ? tail : (prefix + tail).split(ID_MARK).join(id);
  }
  return urls;
}
