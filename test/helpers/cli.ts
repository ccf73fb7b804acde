import { main } from "../../cli/main";

/** What one `klarefi` run printed and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The whole environment the command sees (nothing of the test's own is passed through). */
  env?: Record<string, string | undefined>;
  /** Stops a long-running command (`klarefi dev`) as Ctrl-C would. */
  signal?: AbortSignal;
}

/** A `klarefi` command still running: its output so far, and its result once it exits. */
export interface StartedCli {
  stdout(): string;
  stderr(): string;
  exited: Promise<CliRun>;
}

/**
 * Starts `klarefi <args>` in this process through `main()` (cli/main.ts), with
 * its output captured; for a command that keeps running, such as `klarefi dev`.
 */
export function startCli(args: readonly string[], options: CliOptions = {}): StartedCli {
  let stdout = "";
  let stderr = "";
  const code = main([...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: options.env ?? {},
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { stdout: () => stdout, stderr: () => stderr, exited: code.then((c) => ({ code: c, stdout, stderr })) };
}

/** Runs `klarefi <args>` in this process through `main()` and answers its exit code and captured output. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return startCli(args, options).exited;
}
