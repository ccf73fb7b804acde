import { randomUUID } from "node:crypto";
import { KlarefiValidationError } from "../../client/errors";
import type { CreateSessionRequest, Session } from "../../contract/schemas";
import { API_OPTIONS, noPositionals, onePositional, parseFlags } from "../args";
import { clientFromEnvironment } from "../client";
import { ExitCode, UsageError, type CliIo } from "../io";

/** `klarefi sessions create|get|revoke`. */

const ENV_NOTE = `Environment:
  KLAREFI_API_KEY    API key (sk_test_… or sk_live_…); there is no --api-key flag
  KLAREFI_BASE_URL   API base URL (default https://api.klarefi.com); --base-url overrides it`;

export const SESSIONS_HELP = `Usage: klarefi sessions <command> [flags]

Hosted intake sessions: the applicant-facing entry point for one case.

Commands:
  create        Create a session and print its signed intake URL
  get <id>      Print a session as JSON
  revoke <id>   Revoke a session's link (idempotent) and print it as JSON

Run "klarefi sessions <command> --help" for a command's flags.

${ENV_NOTE}
`;

export const SESSIONS_CREATE_HELP = `Usage: klarefi sessions create --case-type <id> --external-case-id <ref> --external-applicant-id <ref> [flags]

Create a hosted intake session (POST /api/v1/sessions).

Required:
  --case-type <id>               Case type identifier from your Klarefi dashboard, e.g. motor_claim
  --external-case-id <ref>       Your system's case reference, e.g. claim_48392
  --external-applicant-id <ref>  Your system's applicant reference, e.g. applicant_789

Optional:
  --return-url <url>             Where the applicant goes when done (https://, or http://localhost)
  --locale <tag>                 BCP 47 language tag, e.g. nl or nl-BE
  --trace-id <id>                Trace id for support/debugging (also sent as Klarefi-Trace-Id)
  --expires-at <time>            RFC 3339 expiry of the link, e.g. 2027-03-31T00:00:00Z
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

export const SESSIONS_REVOKE_HELP = `Usage: klarefi sessions revoke <session-id> [--json] [--base-url <url>]

Revoke an intake session's link (POST /api/v1/sessions/{id}/revoke) and print the session as JSON.
Revoking an already revoked session succeeds and changes nothing.

${ENV_NOTE}
`;

/** Flag names of the create command by body field, to point usage errors at the flag. */
const FLAG_OF_FIELD: Record<string, string> = {
  case_type_id: "--case-type",
  external_case_id: "--external-case-id",
  external_applicant_id: "--external-applicant-id",
  return_url: "--return-url",
  locale: "--locale",
  trace_id: "--trace-id",
  expires_at: "--expires-at",
  idempotency_key: "--idempotency-key",
};

export async function sessionsCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case undefined:
      throw new UsageError("missing a sessions command (create, get or revoke)", "sessions");
    case "-h":
    case "--help":
    case "help":
      io.stdout.write(SESSIONS_HELP);
      return ExitCode.ok;
    case "create":
      return createSession(rest, io);
    case "get":
      return getSession(rest, io);
    case "revoke":
      return revokeSession(rest, io);
    default:
      throw new UsageError(`unknown sessions command "${sub}" (expected create, get or revoke)`, "sessions");
  }
}

async function createSession(args: string[], io: CliIo): Promise<number> {
  const command = "sessions create";
  const { values, positionals } = parseFlags(command, args, {
    ...API_OPTIONS,
    "case-type": { type: "string" },
    "external-case-id": { type: "string" },
    "external-applicant-id": { type: "string" },
    "return-url": { type: "string" },
    locale: { type: "string" },
    "trace-id": { type: "string" },
    "expires-at": { type: "string" },
    "idempotency-key": { type: "string" },
    "url-only": { type: "boolean" },
    json: { type: "boolean" },
  });
  if (values.help) {
    io.stdout.write(SESSIONS_CREATE_HELP);
    return ExitCode.ok;
  }
  noPositionals(command, positionals);
  const required = ["case-type", "external-case-id", "external-applicant-id"] as const;
  for (const flag of required) {
    if (values[flag] === undefined) throw new UsageError(`missing required flag --${flag}`, command);
  }
  if (values["url-only"] && values.json) throw new UsageError("--url-only and --json exclude each other", command);

  const body: CreateSessionRequest = {
    case_type_id: values["case-type"] as string,
    idempotency_key: values["idempotency-key"] ?? `cli_${randomUUID()}`,
    external_case_id: values["external-case-id"] as string,
    external_applicant_id: values["external-applicant-id"] as string,
    ...(values["return-url"] === undefined ? {} : { return_url: values["return-url"] }),
    ...(values.locale === undefined ? {} : { locale: values.locale }),
    ...(values["trace-id"] === undefined ? {} : { trace_id: values["trace-id"] }),
    ...(values["expires-at"] === undefined ? {} : { expires_at: values["expires-at"] }),
  };

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
  const { values, positionals } = parseFlags(command, args, { ...API_OPTIONS, json: { type: "boolean" } });
  if (values.help) {
    io.stdout.write(SESSIONS_REVOKE_HELP);
    return ExitCode.ok;
  }
  const id = onePositional(command, positionals, "<session-id>");
  const klarefi = clientFromEnvironment(io, command, values["base-url"]);
  try {
    io.stdout.write(`${JSON.stringify(await klarefi.sessions.revoke(id), null, 2)}\n`);
    return ExitCode.ok;
  } finally {
    await klarefi.close();
  }
}
