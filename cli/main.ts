/**
 * @module
 * The `klarefi` command line.
 *
 * Exit codes:
 *   0  ok
 *   1  API or server error (including a request the API refused, e.g. 422 unknown case type)
 *   2  usage error: unknown or missing flags or arguments, a flag value refused before sending
 *   3  configuration or authentication error: KLAREFI_API_KEY missing or malformed, a base URL
 *      that is not one or ends in /api/v1, key refused (401)
 *   4  not found (404)
 *   5  connection error or timeout: the API could not be reached or did not answer in time
 *
 * Errors go to stderr as one line (the message, with the request id when the
 * API gave one; a JSON object under `--json`); results go to stdout. The API
 * key never appears in either.
 */
import {
  KlarefiAuthenticationError,
  KlarefiConfigError,
  KlarefiConnectionError,
  KlarefiError,
  KlarefiNotFoundError,
  KlarefiValidationError,
} from "../client/errors";
import { clientVersion } from "../client/transport";
import { LOCAL_TEST_API_KEY } from "../contract/fields";
import { casesCommand } from "./commands/cases";
import { sessionsCommand } from "./commands/sessions";
import { ExitCode, UsageError, writeLine, type CliIo } from "./io";

export { ExitCode, type CliIo } from "./io";

export const MAIN_HELP = `Usage: klarefi <command> [flags]

Klarefi hosted intake sessions from the command line, and a local Klarefi server.

Commands:
  sessions create   Create an intake session and print its signed URL
  sessions get      Print an intake session as JSON
  sessions status   Count the sessions of a mail-merge file by status (--from-csv <file>)
  sessions revoke   Revoke an intake session's link, or every link of a mail-merge file
                    (--from-csv <file> [--dry-run])
  cases get         Print a case as JSON
  dev               Run the local Klarefi server (for development and tests)

Global flags:
  --base-url <url>  API base URL for API commands; overrides KLAREFI_BASE_URL (the origin only,
                    without /api/v1)
  --json            With a command that takes it: results and errors as JSON (an error is
                    {"error": {...}} on stderr)
  -h, --help        Show help; every command and subcommand takes it
  --version         Print the version

Environment:
  KLAREFI_API_KEY   API key for API commands (sk_test_… or sk_live_…). There is no --api-key
                    flag for API commands, so keys stay out of shell history. \`klarefi dev\`
                    accepts the documented test key ${LOCAL_TEST_API_KEY}.
  KLAREFI_BASE_URL  API base URL (default https://api.klarefi.com), e.g. http://127.0.0.1:4010

Exit codes:
  0  ok
  1  API or server error
  2  usage error (bad flags, missing required flag)
  3  configuration or authentication error (KLAREFI_API_KEY missing, malformed or refused;
     a base URL that ends in /api/v1)
  4  not found
  5  connection error or timeout

Example:
  export KLAREFI_API_KEY=sk_test_...
  klarefi sessions create --case-type motor_claim --external-case-id claim_48392 \\
    --external-applicant-id applicant_789 --return-url https://claims.example.com/claim_48392 --url-only
`;

function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/**
 * Runs `klarefi` with `argv` (without node and script) and resolves to the
 * exit code; never rejects and never calls `process.exit`.
 */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  try {
    return await run(argv, io);
  } catch (error) {
    return report(error, io, wantsJson(argv));
  }
}

/** Whether the command line asks for JSON (`--json` before any `--` end of flags). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const args = [...argv];
  // Global flags before the command: help, version, --base-url (handed to the command).
  const global: string[] = [];
  while (args.length > 0 && args[0]?.startsWith("-")) {
    const flag = args.shift() as string;
    if (flag === "-h" || flag === "--help") {
      io.stdout.write(MAIN_HELP);
      return ExitCode.ok;
    }
    if (flag === "--version" || flag === "-v") {
      io.stdout.write(`klarefi ${clientVersion()}\n`);
      return ExitCode.ok;
    }
    if (flag === "--base-url") {
      const value = args.shift();
      if (value === undefined) throw new UsageError("--base-url needs a value", "");
      global.push("--base-url", value);
    } else if (flag.startsWith("--base-url=")) {
      global.push(flag);
    } else if (flag === "--api-key" || flag.startsWith("--api-key=")) {
      throw new UsageError(
        "--api-key is not a flag of API commands (a key on the command line ends up in shell history): set the KLAREFI_API_KEY environment variable instead",
        "",
      );
    } else {
      throw new UsageError(`unknown global flag ${flag.replace(/=.*$/, "")}`, "");
    }
  }
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
      throw new UsageError("missing a command (sessions, cases or dev)", "");
    case "help":
      io.stdout.write(MAIN_HELP);
      return ExitCode.ok;
    case "sessions":
      return sessionsCommand(withGlobals(rest, global), io);
    case "cases":
      return casesCommand(withGlobals(rest, global), io);
    case "dev":
      if (global.length > 0) throw new UsageError("--base-url does not apply to klarefi dev (use --port)", "dev");
      // Loaded on demand: the server (hono, node:sqlite) is not needed by API commands.
      return (await import("./commands/dev")).devCommand(rest, io);
    default:
      throw new UsageError(`unknown command "${command}" (expected sessions, cases or dev)`, "");
  }
}

/** Puts global flags after the subcommand, where the command's parser reads them. */
function withGlobals(rest: string[], global: string[]): string[] {
  if (global.length === 0 || rest.length === 0) return rest;
  const [sub, ...more] = rest;
  return [sub as string, ...global, ...more];
}

/**
 * Prints the error to stderr as one line and picks the exit code. Under
 * `--json` the line is `{"error": {...}}` with the message, the exit code and
 * what the API said (status, type, code, param, request id).
 */
function report(error: unknown, io: CliIo, json: boolean): number {
  const code = exitCodeFor(error);
  let message = error instanceof Error ? error.message : String(error);
  let help: string | undefined;
  if (error instanceof UsageError) {
    help = error.command === "" ? "klarefi --help" : `klarefi ${error.command} --help`;
    if (!json) message = `${message}; see ${help}`;
  }
  if (!json) {
    writeLine(io.stderr, `klarefi: ${message}`);
    return code;
  }
  const api = error instanceof KlarefiError ? error : undefined;
  const body = {
    error: {
      name: error instanceof Error ? error.name : "Error",
      message,
      exit_code: code,
      ...(help === undefined ? {} : { help }),
      ...(api?.status === undefined ? {} : { status: api.status }),
      ...(api?.type === undefined ? {} : { type: api.type }),
      ...(api?.code === undefined ? {} : { code: api.code }),
      ...(api?.param === undefined ? {} : { param: api.param }),
      ...(api?.requestId === undefined ? {} : { request_id: api.requestId }),
    },
  };
  writeLine(io.stderr, JSON.stringify(body));
  return code;
}

/** The documented exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return ExitCode.usage;
  if (error instanceof KlarefiConfigError || error instanceof KlarefiAuthenticationError) return ExitCode.config;
  if (error instanceof KlarefiNotFoundError) return ExitCode.notFound;
  if (error instanceof KlarefiConnectionError) return ExitCode.connection;
  // Refused before sending (a bad id or flag value): the command line was wrong.
  if (error instanceof KlarefiValidationError && error.status === undefined) return ExitCode.usage;
  if (error instanceof KlarefiError) return ExitCode.apiError;
  return ExitCode.apiError;
}
