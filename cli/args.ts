/**
 * @module
 * Flag parsing for every command: `node:util` parseArgs in strict mode, with
 * its errors turned into `UsageError`s that name the command, and a clear
 * refusal of `--api-key` on API commands (keys come from KLAREFI_API_KEY).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./io";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `--base-url` and `--help`, accepted by every API command. */
export const API_OPTIONS = {
  "base-url": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

export interface Parsed<V> {
  values: V;
  positionals: string[];
}

/**
 * Parses `args` for `command`. `apiKeyFlag` is false for API commands: there
 * `--api-key` is refused with a pointer to KLAREFI_API_KEY (its value is
 * never echoed).
 */
export function parseFlags<const O extends Options>(
  command: string,
  args: string[],
  options: O,
  { apiKeyFlag = false }: { apiKeyFlag?: boolean } = {},
) {
  if (!apiKeyFlag && args.some((a) => a === "--api-key" || a.startsWith("--api-key="))) {
    throw new UsageError(
      "--api-key is not a flag of API commands (a key on the command line ends up in shell history): set the KLAREFI_API_KEY environment variable instead",
      command,
    );
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.replace(/\.$/, "").replace(/ To specify a positional argument.*$/, ""), command);
  }
}

/** The single positional `<id>` of `get`/`revoke` commands. */
export function onePositional(command: string, positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`missing the ${what} argument`, command);
  if (positionals.length > 1) {
    throw new UsageError(`expected one ${what}, got ${positionals.length} arguments`, command);
  }
  return positionals[0] as string;
}

/** Refuses positionals where a command takes none. */
export function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, command);
}
