/**
 * @module
 * `klarefi sessions create|get|status|revoke`, including the bulk forms that
 * read a campaign's mail-merge file (`--from-csv`).
 */
import { randomUUID } from "node:crypto";
import { KlarefiNotFoundError, KlarefiValidationError } from "../../client/errors";
import type { Klarefi } from "../../client/klarefi";
import { REQUEST_FIELD_LIST, type RequestField } from "../../contract/request-fields";
import type { CreateSessionRequest, Session, SessionStatus } from "../../contract/schemas";
import { API_OPTIONS, noPositionals, onePositional, parseFlags } from "../args";
import { clientFromEnvironment } from "../client";
import { ExitCode, UsageError, type CliIo } from "../io";
import { readMailMerge as readMailMergeFile, type MailMergeEntry as MailMergeRow } from "../../contract/mail-merge";
import { forEachBounded } from "../bounded";

const ENV_NOTE = `Environment:
  KLAREFI_API_KEY    API key (sk_test_… or sk_live_…); there is no --api-key flag
  KLAREFI_BASE_URL   API base URL (default https://api.klarefi.com); --base-url overrides it`;

export const SESSIONS_HELP = `Usage: klarefi sessions <command> [flags]

Hosted intake sessions: the applicant-facing entry point for one case.

Commands:
  create                   Create a session and print its signed intake URL
  get <id>                 Print a session as JSON
  status --from-csv <file> Count the sessions of a mail-merge file by status; list those not open
  revoke <id>              Revoke a session's link (idempotent) and print it as JSON
  revoke --from-csv <file> Revoke every session of a mail-merge file (--dry-run: say which are open)

Run "klarefi sessions <command> --help" for a command's flags.

${ENV_NOTE}
`;

/** A flag of `sessions create` as its help lists it: the flag and its argument, then what it is. */
const helpLine = (flag: string, help: string) => `  ${flag.padEnd(31)}${help}`;
/** The request fields' flags (contract/request-fields.ts): `--case-type <id>`. */
const flagOf = (field: RequestField) => `--${field.cli.flag} ${field.cli.arg}`;
const requiredFields = REQUEST_FIELD_LIST.filter((field) => field.required);
const optionalFields = REQUEST_FIELD_LIST.filter((field) => !field.required);

export const SESSIONS_CREATE_HELP = `Usage: klarefi sessions create ${requiredFields.map(flagOf).join(" ")} [flags]

Create a hosted intake session (POST /api/v1/sessions).

Required:
${requiredFields.map((field) => helpLine(flagOf(field), field.cli.help)).join("\n")}

Optional:
${optionalFields.map((field) => helpLine(flagOf(field), field.cli.help)).join("\n")}
  --idempotency-key <key>        Reuse to retry safely; default a fresh cli_<uuid>
  --url-only                     Print only the signed URL
  --json                         Print the whole session as JSON (includes the idempotency_key)
  --base-url <url>               API base URL; overrides KLAREFI_BASE_URL
  -h, --help                     Show this help

Example:
  klarefi sessions create --case-type motor_claim --external-case-id claim_48392 \\
    --external-applicant-id applicant_789 --return-url https://claims.example.com/claim_48392 --url-only

${ENV_NOTE}
`;

export const SESSIONS_GET_HELP = `Usage: klarefi sessions get <session-id> [--json] [--base-url <url>]

Print an intake session as JSON (GET /api/v1/sessions/{id}). --json is accepted; JSON is the only output.

${ENV_NOTE}
`;

export const SESSIONS_STATUS_HELP = `Usage: klarefi sessions status --from-csv <mail-merge file> [--json] [--base-url <url>]

Read every session listed in a campaign's mail-merge file (its session_id column; GET /api/v1/sessions/{id}
for each, at most as many at once as the client's concurrency cap) and print how many are open, completed,
revoked and expired (and not found), then the rows that are not open. Signed URLs in the file are never printed.

Flags:
  --from-csv <file>   The mail-merge file (columns external_case_id, external_applicant_id, session_id, signed_url, …)
  --json              Print { file, total, counts, not_open } as JSON (errors too)
  --base-url <url>    API base URL; overrides KLAREFI_BASE_URL

${ENV_NOTE}
`;

export const SESSIONS_REVOKE_HELP = `Usage: klarefi sessions revoke <session-id> [--json] [--base-url <url>]
       klarefi sessions revoke --from-csv <mail-merge file> [--dry-run] [--json] [--base-url <url>]

Revoke an intake session's link (POST /api/v1/sessions/{id}/revoke) and print the session as JSON.
Revoking an already revoked session succeeds and changes nothing.

With --from-csv, revoke every session listed in a campaign's mail-merge file (for links kept with
retainOnDelete), at most as many at once as the client's concurrency cap. Sessions already revoked, expired,
completed or gone count as done, so the command can be run again after a failure.

With --from-csv --dry-run, read every session's status (GET only) and say what a real run would do: revoke the
open ones and leave the completed, revoked, expired and unknown ones as they are. Nothing is revoked.

Flags:
  --from-csv <file>   The mail-merge file (its session_id column)
  --dry-run           With --from-csv: read the statuses and list what would be revoked; nothing is revoked
  --json              Print the result as JSON (errors too)
  --base-url <url>    API base URL; overrides KLAREFI_BASE_URL

${ENV_NOTE}
`;

/** Flag names of the create command by body field, to point usage errors at the flag. */
const FLAG_OF_FIELD: Record<string, string> = {
  ...Object.fromEntries(REQUEST_FIELD_LIST.map((field) => [field.wire, `--${field.cli.flag}`])),
  idempotency_key: "--idempotency-key",
};

export async function sessionsCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case undefined:
      throw new UsageError("missing a sessions command (create, get, status or revoke)", "sessions");
    case "-h":
    case "--help":
    case "help":
      io.stdout.write(SESSIONS_HELP);
      return ExitCode.ok;
    case "create":
      return createSession(rest, io);
    case "get":
      return getSession(rest, io);
    case "status":
      return sessionsStatus(rest, io);
    case "revoke":
      return revokeSession(rest, io);
    default:
      throw new UsageError(`unknown sessions command "${sub}" (expected create, get, status or revoke)`, "sessions");
  }
}

async function createSession(args: string[], io: CliIo): Promise<number> {
  const command = "sessions create";
  const { values, positionals } = parseFlags(command, args, {
    ...API_OPTIONS,
    ...Object.fromEntries(REQUEST_FIELD_LIST.map((field) => [field.cli.flag, { type: "string" as const }])),
    "idempotency-key": { type: "string" },
    "url-only": { type: "boolean" },
    json: { type: "boolean" },
  });
  if (values.help) {
    io.stdout.write(SESSIONS_CREATE_HELP);
    return ExitCode.ok;
  }
  noPositionals(command, positionals);
  const flags = values as Record<string, string | boolean | undefined>;
  for (const field of requiredFields) {
    if (flags[field.cli.flag] === undefined) throw new UsageError(`missing required flag --${field.cli.flag}`, command);
  }
  if (values["url-only"] && values.json) throw new UsageError("--url-only and --json exclude each other", command);

  const body = {
    ...Object.fromEntries(REQUEST_FIELD_LIST.filter((field) => flags[field.cli.flag] !== undefined).map((field) => [field.wire, flags[field.cli.flag]])),
    idempotency_key: values["idempotency-key"] ?? `cli_${randomUUID()}`,
  } as CreateSessionRequest;

  const klarefi = clientFromEnvironment(io, command, values["base-url"]);
  try {
    const created = await klarefi.sessions.createWithResponse(body).catch((error: unknown) => {
      // Refused before sending: a bad flag value, so a usage error naming the flag.
      if (error instanceof KlarefiValidationError && error.status === undefined && error.param !== undefined) {
        const flag = FLAG_OF_FIELD[error.param] ?? error.param;
        throw new UsageError(`${flag}: ${error.message.replace(/^Creating intake session failed: /, "").replace(/ \(checked before sending\)$/, "")}`, command);
      }
      throw error;
    });
    const session = created.session;
    if (values["url-only"]) {
      io.stdout.write(`${session.signed_url}\n`);
    } else if (values.json) {
      io.stdout.write(`${JSON.stringify(session, null, 2)}\n`);
    } else {
      io.stdout.write(summary(session, created.replayed));
    }
    return ExitCode.ok;
  } finally {
    await klarefi.close();
  }
}

function summary(session: Session, replayed: boolean): string {
  const head = replayed
    ? `Intake session ${session.session_id} already existed for this idempotency key (replayed)`
    : `Created intake session ${session.session_id}`;
  return [
    head,
    `  status           ${session.status}`,
    `  expires_at       ${session.expires_at}`,
    `  idempotency_key  ${session.idempotency_key}`,
    `  signed_url       ${session.signed_url}`,
    "",
  ].join("\n");
}

async function getSession(args: string[], io: CliIo): Promise<number> {
  const command = "sessions get";
  const { values, positionals } = parseFlags(command, args, { ...API_OPTIONS, json: { type: "boolean" } });
  if (values.help) {
    io.stdout.write(SESSIONS_GET_HELP);
    return ExitCode.ok;
  }
  const id = onePositional(command, positionals, "<session-id>");
  const klarefi = clientFromEnvironment(io, command, values["base-url"]);
  try {
    io.stdout.write(`${JSON.stringify(await klarefi.sessions.retrieve(id), null, 2)}\n`);
    return ExitCode.ok;
  } finally {
    await klarefi.close();
  }
}

async function revokeSession(args: string[], io: CliIo): Promise<number> {
  const command = "sessions revoke";
  const { values, positionals } = parseFlags(command, args, {
    ...API_OPTIONS,
    json: { type: "boolean" },
    "from-csv": { type: "string" },
    "dry-run": { type: "boolean" },
  });
  if (values.help) {
    io.stdout.write(SESSIONS_REVOKE_HELP);
    return ExitCode.ok;
  }
  const file = values["from-csv"];
  if (file !== undefined) {
    if (positionals.length > 0) throw new UsageError("give either a <session-id> or --from-csv <file>, not both", command);
    return revokeFromCsv(io, command, file, { dryRun: values["dry-run"] === true, json: values.json === true, baseUrl: values["base-url"] });
  }
  if (values["dry-run"]) throw new UsageError("--dry-run goes with --from-csv <file>", command);
  const id = onePositional(command, positionals, "<session-id>");
  const klarefi = clientFromEnvironment(io, command, values["base-url"]);
  try {
    io.stdout.write(`${JSON.stringify(await klarefi.sessions.revoke(id), null, 2)}\n`);
    return ExitCode.ok;
  } finally {
    await klarefi.close();
  }
}

/** The rows of a mail-merge file; a file that cannot be used is a usage error of `command`, before any API call. */
function readMailMerge(file: string, command: string): MailMergeRow[] {
  const read = readMailMergeFile(file);
  if (!read.ok) throw new UsageError(read.problem, command);
  return read.rows;
}

/** What a bulk command found for one session: its status, or that the API does not know it. */
type BulkStatus = SessionStatus | "not_found";

/** A row as the bulk commands print it: where it is and which session, never the signed URL. */
function rowRef(row: MailMergeRow) {
  return {
    line: row.line,
    ...(row.externalCaseId === undefined ? {} : { external_case_id: row.externalCaseId }),
    ...(row.externalApplicantId === undefined ? {} : { external_applicant_id: row.externalApplicantId }),
    session_id: row.sessionId,
  };
}

function rowView(row: MailMergeRow, status: BulkStatus) {
  return { ...rowRef(row), status };
}

function rowLine(row: MailMergeRow, status?: BulkStatus): string {
  return `  line ${row.line}  ${row.externalCaseId ?? "-"}  ${row.sessionId}${status === undefined ? "" : `  ${status.replace("_", " ")}`}`;
}

/**
 * Calls `call` once per distinct session of `rows`, at most the client's
 * concurrency cap at once; a 404 counts as `not_found`. Stops at the first
 * other failure, which it rethrows saying how many sessions were done.
 */
async function eachSession(
  klarefi: Klarefi,
  rows: readonly MailMergeRow[],
  call: (id: string, signal: AbortSignal) => Promise<Session>,
  done: string,
): Promise<Map<string, BulkStatus>> {
  const ids = [...new Set(rows.map((r) => r.sessionId))];
  const found = new Map<string, BulkStatus>();
  try {
    await forEachBounded(ids, klarefi.maxConcurrency, new AbortController(), async (id, signal) => {
      try {
        found.set(id, (await call(id, signal)).status);
      } catch (error) {
        if (!(error instanceof KlarefiNotFoundError)) throw error;
        found.set(id, "not_found");
      }
    });
  } catch (error) {
    if (error instanceof Error) {
      error.message += `; ${found.size} of ${ids.length} sessions were ${done} before it, and running the command again is safe`;
    }
    throw error;
  }
  return found;
}

function countBy(rows: readonly MailMergeRow[], found: Map<string, BulkStatus>, order: readonly BulkStatus[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(order.map((s) => [s, 0]));
  for (const row of rows) {
    const status = found.get(row.sessionId);
    if (status !== undefined) counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

function countLines(counts: Record<string, number>): string[] {
  const width = Math.max(...Object.keys(counts).map((k) => k.length));
  return Object.entries(counts).map(([status, n]) => `  ${status.replace("_", " ").padEnd(width)}  ${n}`);
}

async function sessionsStatus(args: string[], io: CliIo): Promise<number> {
  const command = "sessions status";
  const { values, positionals } = parseFlags(command, args, { ...API_OPTIONS, json: { type: "boolean" }, "from-csv": { type: "string" } });
  if (values.help) {
    io.stdout.write(SESSIONS_STATUS_HELP);
    return ExitCode.ok;
  }
  noPositionals(command, positionals);
  const file = values["from-csv"];
  if (file === undefined) throw new UsageError("missing required flag --from-csv <mail-merge file>", command);
  const rows = readMailMerge(file, command);
  const klarefi = clientFromEnvironment(io, command, values["base-url"]);
  let found: Map<string, BulkStatus>;
  try {
    found = await eachSession(klarefi, rows, (id, signal) => klarefi.sessions.retrieve(id, { signal }), "read");
  } finally {
    await klarefi.close();
  }
  const counts = countBy(rows, found, ["open", "completed", "revoked", "expired", "not_found"]);
  const notOpen = rows.filter((r) => found.get(r.sessionId) !== "open");
  if (values.json) {
    const result = { file, total: rows.length, counts, not_open: notOpen.map((r) => rowView(r, found.get(r.sessionId) ?? "not_found")) };
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return ExitCode.ok;
  }
  const lines = [`${file}: ${rows.length} session${rows.length === 1 ? "" : "s"}`, ...countLines(counts)];
  if (notOpen.length > 0) {
    lines.push(`Not open (${notOpen.length}):`, ...notOpen.map((r) => rowLine(r, found.get(r.sessionId))));
  }
  io.stdout.write(`${lines.join("\n")}\n`);
  return ExitCode.ok;
}

/**
 * The first line of a dry run: what a real run would revoke (the open
 * sessions) and what it would leave as it is, e.g. `Would revoke 1,996 of the
 * 2,000 sessions of links.csv; left as they are: 3 completed, 1 already
 * revoked (dry run: statuses read, nothing revoked):`.
 */
export function dryRunSummary(file: string, total: number, counts: Record<string, number>): string {
  const n = (k: string) => counts[k] ?? 0;
  const fmt = (x: number) => x.toLocaleString("en-US");
  const stay = [
    ...(n("completed") > 0 ? [`${fmt(n("completed"))} completed`] : []),
    ...(n("revoked") > 0 ? [`${fmt(n("revoked"))} already revoked`] : []),
    ...(n("expired") > 0 ? [`${fmt(n("expired"))} expired`] : []),
    ...(n("not_found") > 0 ? [`${fmt(n("not_found"))} not found`] : []),
  ];
  const staying = stay.length === 0 ? "" : `; left as they are: ${stay.join(", ")}`;
  const head = `Would revoke ${fmt(n("open"))} of the ${fmt(total)} session${total === 1 ? "" : "s"} of ${file}`;
  return `${head}${staying} (dry run: statuses read, nothing revoked)${n("open") > 0 ? ":" : ""}`;
}

async function revokeFromCsv(
  io: CliIo,
  command: string,
  file: string,
  options: { dryRun: boolean; json: boolean; baseUrl: string | undefined },
): Promise<number> {
  const rows = readMailMerge(file, command);
  const klarefi = clientFromEnvironment(io, command, options.baseUrl);
  if (options.dryRun) {
    // A dry run reads every status: only the open sessions would be revoked.
    let statuses: Map<string, BulkStatus>;
    try {
      statuses = await eachSession(klarefi, rows, (id, signal) => klarefi.sessions.retrieve(id, { signal }), "read");
    } finally {
      await klarefi.close();
    }
    const counts = countBy(rows, statuses, ["open", "completed", "revoked", "expired", "not_found"]);
    const open = rows.filter((r) => statuses.get(r.sessionId) === "open");
    if (options.json) {
      const result = { file, dry_run: true, total: rows.length, counts, would_revoke: open.map(rowRef) };
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      io.stdout.write(`${[dryRunSummary(file, rows.length, counts), ...open.map((r) => rowLine(r))].join("\n")}\n`);
    }
    return ExitCode.ok;
  }
  let found: Map<string, BulkStatus>;
  try {
    found = await eachSession(klarefi, rows, (id, signal) => klarefi.sessions.revoke(id, { signal }), "revoked");
  } finally {
    await klarefi.close();
  }
  // A revoke answers the session as it now is: revoked, or already expired or completed (closed either way).
  const counts = countBy(rows, found, ["revoked", "expired", "completed", "not_found"]);
  const stillOpen = rows.filter((r) => found.get(r.sessionId) === "open");
  if (options.json) {
    const result = { file, dry_run: false, total: rows.length, counts, still_open: stillOpen.map((r) => rowView(r, "open")) };
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const lines = [`Revoked the sessions of ${file}: ${rows.length} session${rows.length === 1 ? "" : "s"}, none of them open now`, ...countLines(counts)];
    if (stillOpen.length > 0) lines[0] = `Revoked the sessions of ${file}, but ${stillOpen.length} still answer open:`;
    if (stillOpen.length > 0) lines.push(...stillOpen.map((r) => rowLine(r, "open")));
    io.stdout.write(`${lines.join("\n")}\n`);
  }
  return stillOpen.length > 0 ? ExitCode.apiError : ExitCode.ok;
}
