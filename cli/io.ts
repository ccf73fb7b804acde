/**
 * @module
 * What every `klarefi` command shares: the streams and environment it runs
 * with (injectable, so tests capture output without spawning a process), the
 * exit codes, and the usage error.
 */
import { redactSecrets } from "../client/errors";

/** A stream the CLI writes text to. */
export interface TextSink {
  write(chunk: string): unknown;
}

/** Streams and environment of one CLI run; `main` uses the process's when not given. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  /** Where KLAREFI_API_KEY and KLAREFI_BASE_URL are read from. */
  env: Record<string, string | undefined>;
  /**
   * Stops long-running commands (`klarefi dev`) when aborted. When absent,
   * `klarefi dev` stops on SIGINT/SIGTERM of the process.
   */
  signal?: AbortSignal;
}

/**
 * Exit codes of `klarefi` (also listed in `klarefi --help`):
 * 0 ok, 1 API or server error, 2 usage error, 3 configuration or
 * authentication error, 4 not found, 5 connection error or timeout.
 */
export const ExitCode = {
  ok: 0,
  apiError: 1,
  usage: 2,
  config: 3,
  notFound: 4,
  connection: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Bad flags or arguments; `main` prints it with a pointer to the command's help and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** The command whose `--help` to point at, e.g. "sessions create". */
  readonly command: string;
  constructor(message: string, command: string) {
    super(message);
    this.command = command;
  }
}

/** Writes one line; collapses newlines so an error is always a single line, and redacts secrets. */
export function writeLine(sink: TextSink, text: string): void {
  sink.write(`${redactSecrets(text.replace(/\s*\n\s*/g, " ").trim())}\n`);
}
