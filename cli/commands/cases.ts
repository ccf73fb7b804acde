import { API_OPTIONS, onePositional, parseFlags } from "../args";
import { clientFromEnvironment } from "../client";
import { ExitCode, UsageError, type CliIo } from "../io";

/** `klarefi cases get`. */

export const CASES_HELP = `Usage: klarefi cases get <case-id> [--json] [--base-url <url>]

Print a case as JSON (GET /api/v1/cases/{id}). In v1 hosted sessions the case id is the session id.

Environment:
  KLAREFI_API_KEY    API key (sk_test_… or sk_live_…); there is no --api-key flag
  KLAREFI_BASE_URL   API base URL (default https://api.klarefi.com); --base-url overrides it
`;

export async function casesCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case undefined:
      throw new UsageError("missing a cases command (get)", "cases");
    case "-h":
    case "--help":
    case "help":
      io.stdout.write(CASES_HELP);
      return ExitCode.ok;
    case "get":
      return getCase(rest, io);
    default:
      throw new UsageError(`unknown cases command "${sub}" (expected get)`, "cases");
  }
}

async function getCase(args: string[], io: CliIo): Promise<number> {
  const command = "cases get";
  const { values, positionals } = parseFlags(command, args, { ...API_OPTIONS, json: { type: "boolean" } });
  if (values.help) {
    io.stdout.write(CASES_HELP);
    return ExitCode.ok;
  }
  const id = onePositional(command, positionals, "<case-id>");
  const klarefi = clientFromEnvironment(io, command, values["base-url"]);
  try {
    io.stdout.write(`${JSON.stringify(await klarefi.cases.retrieve(id), null, 2)}\n`);
    return ExitCode.ok;
  } finally {
    await klarefi.close();
  }
}
