/**
 * @module
 * Driving the Pulumi CLI as a child process, for the demo, the tests and the
 * benchmarks: one way to spawn `pulumi`, one error type for a failed run, and
 * one stack wrapper that keeps the stack's config file out of the project
 * folder (so a committed example stays as committed). Nothing here holds
 * module-level state: every run belongs to the caller's {@link PulumiCliStack}
 * or to one {@link runPulumi} call.
 *
 * Use the Automation API (`LocalWorkspace`) instead where an inline program is
 * enough; use this where the real CLI, its language host and its live display
 * are the point.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { pulumiProcessEnv } from "./pulumi-env";

/** What a finished `pulumi` run printed and how it exited. */
export interface PulumiCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Why a `pulumi` run did not succeed. */
export type PulumiCliFailure = "exit" | "not-found" | "spawn" | "timeout" | "aborted";

/**
 * A `pulumi` run that failed: a non-zero exit, no `pulumi` on PATH, a
 * timeout or an abort. `lastLine` is the last line Pulumi wrote to stderr
 * (or stdout), for one-line reports; the message also carries the tails of
 * both streams, for test failures.
 */
export class PulumiCliError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly reason: PulumiCliFailure,
    readonly result: PulumiCliResult,
    message: string,
  ) {
    super(message);
    this.name = "PulumiCliError";
  }

  /** The exit code, or undefined when the process never ran to an exit of its own. */
  get code(): number | undefined {
    return this.reason === "exit" ? this.result.code : undefined;
  }

  /** The last non-empty line of stderr, else of stdout, else "no output". */
  get lastLine(): string {
    const last = (text: string) => text.trim().split("\n").map((l) => l.trim()).filter(Boolean).pop();
    return last(this.result.stderr) ?? last(this.result.stdout) ?? "no output";
  }
}

/** How one `pulumi` child runs. */
export interface RunPulumiOptions {
  /** The project folder (where Pulumi.yaml is). */
  cwd: string;
  /** The child's whole environment; see `pulumiProcessEnv` in scripts/pulumi-env.ts. */
  env: NodeJS.ProcessEnv;
  /** "inherit" shows Pulumi's own display on this terminal; "capture" (default) collects the output. */
  display?: "inherit" | "capture";
  /** Text for stdin (capture only): config values go this way so they never show in a process listing. */
  input?: string;
  /** The child is killed (SIGKILL) after this long and the run fails with reason "timeout". */
  timeoutMs?: number;
  /** On abort the child gets SIGTERM (Pulumi cancels cleanly) and the run fails with reason "aborted" once it has exited. */
  signal?: AbortSignal;
  /** The executable; default `pulumi` from the PATH of `env`. */
  command?: string;
}

/** Most stderr kept per run: enough for Pulumi's diagnostics, bounded for a run that loops. */
const STDERR_LIMIT = 64_000;

/**
 * Runs `pulumi <args>` and resolves once the child has exited. A non-zero
 * exit resolves too (check `code`); spawn failures, timeouts and aborts
 * reject with a {@link PulumiCliError}. The event loop stays free meanwhile,
 * so an in-process server keeps answering the program.
 */
export function runPulumi(args: readonly string[], options: RunPulumiOptions): Promise<PulumiCliResult> {
  const command = options.command ?? "pulumi";
  const inherit = options.display === "inherit";
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new PulumiCliError(args, "aborted", { code: 1, stdout: "", stderr: "" }, `pulumi ${args.join(" ")} was not started: aborted.`));
      return;
    }
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: inherit ? ["inherit", "inherit", "inherit"] : ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let failure: { reason: PulumiCliFailure; message: string } | undefined;
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_LIMIT)));
    child.stdin?.on("error", () => {}); // a child that exits before reading stdin is reported by its exit code
    if (!inherit) child.stdin?.end(options.input ?? "");

    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            failure = { reason: "timeout", message: `pulumi ${args.join(" ")} ran longer than ${options.timeoutMs} ms and was killed.` };
            child.kill("SIGKILL");
          }, options.timeoutMs);
    const onAbort = () => {
      failure ??= { reason: "aborted", message: `pulumi ${args.join(" ")} was stopped: aborted.` };
      child.kill("SIGTERM");
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const settle = () => {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    };

    child.once("error", (error: NodeJS.ErrnoException) => {
      settle();
      const notFound = error.code === "ENOENT";
      reject(
        new PulumiCliError(
          args,
          notFound ? "not-found" : "spawn",
          { code: 1, stdout, stderr },
          notFound
            ? `The Pulumi CLI (${command}) was not found${command.includes(path.sep) ? "" : " on PATH"}.`
            : `Starting ${command} failed: ${error.message}.`,
        ),
      );
    });
    child.once("close", (code, signal) => {
      settle();
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (failure) reject(new PulumiCliError(args, failure.reason, result, withTails(failure.message, result)));
      else resolve(result);
    });
  });
}

function withTails(message: string, result: PulumiCliResult): string {
  const tail = (text: string) => text.trim().slice(-3000) || "(empty)";
  return `${message}\n--- stdout (end)\n${tail(result.stdout)}\n--- stderr (end)\n${tail(result.stderr)}`;
}

/** `pulumi preview --json`: what the tests and the demo read of it. */
export const PreviewJson = z.looseObject({
  changeSummary: z.record(z.string(), z.number()).default({}),
  steps: z.array(z.looseObject({ op: z.string(), urn: z.string() })).default([]),
});
export type PreviewJson = z.infer<typeof PreviewJson>;

const StackList = z.array(z.looseObject({ name: z.string() }));
const StackExport = z.looseObject({
  deployment: z.looseObject({
    resources: z.array(z.looseObject({ urn: z.string(), type: z.string(), custom: z.boolean().default(false) })).nullish(),
  }),
});

/** A resource in a stack's state, as `pulumi stack export` lists it. */
export interface StateResource {
  urn: string;
  type: string;
  /** A resource of a provider (not a component, not the stack). */
  custom: boolean;
}
const StackOutputs = z.record(z.string(), z.unknown());

/** Where a {@link PulumiCliStack} lives and how its runs are made. */
export interface PulumiCliStackOptions {
  /** The project folder (where Pulumi.yaml is); every run has it as its working directory. */
  projectDir: string;
  /** The stack name. */
  stack: string;
  /** The child environment; see `pulumiProcessEnv`. */
  env: NodeJS.ProcessEnv;
  /**
   * The stack's config file (`--config-file`). When set, the file `pulumi
   * stack init` writes next to Pulumi.yaml is moved here at once, so the
   * project folder stays as committed. Unset: Pulumi's own place.
   */
  configFile?: string;
  /** Applies to every run of this stack; see {@link RunPulumiOptions.timeoutMs}. */
  timeoutMs?: number;
  /** Applies to every run of this stack; see {@link RunPulumiOptions.signal}. */
  signal?: AbortSignal;
  /** The executable; default `pulumi`. */
  command?: string;
}

/** Options of one command run through a {@link PulumiCliStack}. */
export interface StackRunOptions {
  display?: "inherit" | "capture";
  input?: string;
  /** Resolve with a non-zero exit instead of rejecting. */
  allowFailure?: boolean;
}

/**
 * One stack of a project folder, driven through the `pulumi` CLI. Commands
 * that read stack config get `--stack` and, when set, `--config-file`.
 * Every method rejects with a {@link PulumiCliError} when Pulumi fails.
 */
export class PulumiCliStack {
  readonly name: string;
  readonly projectDir: string;
  readonly configFile: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly #options: PulumiCliStackOptions;
  #destroyed = false;

  constructor(options: PulumiCliStackOptions) {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(options.stack)) {
      throw new RangeError(`A stack name is letters, digits, "-", "_" or "." (1 to 100); got "${options.stack}".`);
    }
    this.name = options.stack;
    this.projectDir = options.projectDir;
    this.configFile = options.configFile;
    this.env = options.env;
    this.#options = options;
  }

  /** `--stack <name>` and, when set, `--config-file <file>`. */
  get scope(): string[] {
    return ["--stack", this.name, ...(this.configFile === undefined ? [] : ["--config-file", this.configFile])];
  }

  /** Runs `pulumi <args>` in the project folder; a non-zero exit rejects unless `allowFailure`. */
  async run(args: readonly string[], options: StackRunOptions = {}): Promise<PulumiCliResult> {
    const result = await runPulumi(args, {
      cwd: this.projectDir,
      env: this.env,
      display: options.display,
      input: options.input,
      timeoutMs: this.#options.timeoutMs,
      signal: this.#options.signal,
      command: this.#options.command,
    });
    if (result.code !== 0 && !options.allowFailure) {
      const shown = options.display === "inherit" ? "; see Pulumi's output above" : "";
      throw new PulumiCliError(args, "exit", result, withTails(`pulumi ${args.join(" ")} exited with code ${result.code}${shown}.`, result));
    }
    if (result.code === 0 && args[0] === "destroy") this.#destroyed = true;
    else if (args[0] === "up" || args[0] === "refresh" || args[0] === "import") this.#destroyed = false;
    return result;
  }

  /** Whether the last `up`, `refresh` or `destroy` run through this object was a successful destroy. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Whether the backend has this stack (`pulumi stack ls --json`). */
  async exists(): Promise<boolean> {
    const out = await this.run(["stack", "ls", "--json"]);
    const stacks = StackList.safeParse(parseJson(out.stdout));
    if (!stacks.success) throw new Error(`pulumi stack ls --json answered something that is not a list of stacks: ${out.stdout.slice(0, 200)}`);
    return stacks.data.some((s) => s.name === this.name || s.name.endsWith(`/${this.name}`));
  }

  /**
   * `pulumi stack init` with the passphrase secrets provider. With a
   * `configFile`, the stack file Pulumi writes next to Pulumi.yaml (it holds
   * the passphrase salt) is moved there. Refuses to overwrite a stack file
   * already in the project folder.
   */
  async init(): Promise<void> {
    const projectStackFile = path.join(this.projectDir, `Pulumi.${this.name}.yaml`);
    const moveOut = this.configFile !== undefined && path.resolve(this.configFile) !== path.resolve(projectStackFile);
    if (moveOut && existsSync(projectStackFile)) {
      throw new Error(`${projectStackFile} already exists; move it away or use another stack name.`);
    }
    if (this.configFile !== undefined && moveOut) rmSync(this.configFile, { force: true });
    await this.run(["stack", "init", this.name, "--secrets-provider", "passphrase", "--non-interactive"]);
    if (moveOut && this.configFile !== undefined && existsSync(projectStackFile)) {
      mkdirSync(path.dirname(this.configFile), { recursive: true });
      moveFile(projectStackFile, this.configFile);
    }
  }

  /** `pulumi config set`; the value goes through stdin. */
  async setConfig(key: string, value: string, options: { secret?: boolean } = {}): Promise<void> {
    await this.run(["config", "set", ...this.scope, ...(options.secret ? ["--secret"] : []), key], { input: value });
  }

  /** {@link setConfig} for each entry, in order. */
  async setAllConfig(config: Readonly<Record<string, { value: string; secret?: boolean }>>): Promise<void> {
    for (const [key, { value, secret }] of Object.entries(config)) await this.setConfig(key, value, { secret });
  }

  /** `pulumi up --yes`; captured runs also skip the preview and are non-interactive. */
  up(options: { display?: "inherit" | "capture" } = {}): Promise<PulumiCliResult> {
    return this.run(["up", "--yes", ...quietFlags(options.display), ...this.scope], { display: options.display });
  }

  /** `pulumi preview --json`: the change summary and the steps. */
  async preview(): Promise<PreviewJson> {
    const out = await this.run(["preview", "--json", "--non-interactive", ...this.scope]);
    return PreviewJson.parse(parseJson(out.stdout));
  }

  /** `pulumi refresh --yes`. */
  refresh(options: { display?: "inherit" | "capture" } = {}): Promise<PulumiCliResult> {
    return this.run(["refresh", "--yes", ...quietFlags(options.display), ...this.scope], { display: options.display });
  }

  /**
   * `pulumi destroy --yes`. `runProgram` makes the provider use today's stack
   * config (say, a server on another port) rather than the config saved at
   * the last `up`.
   */
  destroy(options: { display?: "inherit" | "capture"; runProgram?: boolean; allowFailure?: boolean } = {}): Promise<PulumiCliResult> {
    return this.run(["destroy", "--yes", ...quietFlags(options.display), ...(options.runProgram ? ["--run-program"] : []), ...this.scope], {
      display: options.display,
      allowFailure: options.allowFailure,
    });
  }

  /** The resources in the stack's state (`pulumi stack export`), providers included. */
  async resources(): Promise<StateResource[]> {
    const out = await this.run(["stack", "export", "--stack", this.name]);
    const parsed = StackExport.parse(parseJson(out.stdout));
    return (parsed.deployment.resources ?? []).map((r) => ({ urn: r.urn, type: r.type, custom: r.custom }));
  }

  /** `pulumi stack output --json`, secrets shown or as "[secret]". */
  async outputs(showSecrets: boolean): Promise<Record<string, unknown>> {
    const out = await this.run(["stack", "output", "--json", "--stack", this.name, ...(showSecrets ? ["--show-secrets"] : [])]);
    return StackOutputs.parse(parseJson(out.stdout));
  }

  /**
   * `pulumi stack rm --yes`, then the config file. Without `force`, Pulumi
   * refuses to remove a stack that still has resources.
   */
  async remove(options: { force?: boolean; allowFailure?: boolean } = {}): Promise<void> {
    await this.run(["stack", "rm", "--yes", ...(options.force ? ["--force"] : []), "--stack", this.name], { allowFailure: options.allowFailure });
    if (this.configFile !== undefined) rmSync(this.configFile, { force: true });
  }
}

function quietFlags(display: "inherit" | "capture" | undefined): string[] {
  return display === "inherit" ? [] : ["--non-interactive", "--skip-preview"];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** rename, or copy and delete across file systems. */
function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
    copyFileSync(from, to);
    rmSync(from);
  }
}

/** A stack name not used before: `<prefix>-<8 hex digits>`. */
function randomStackName(prefix = "t"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** A throwaway stack: see {@link withCliStack}. */
export interface TempCliStackOptions {
  /** The project folder (where Pulumi.yaml is). */
  projectDir: string;
  /** The passphrase of the stack's secrets. */
  passphrase: string;
  /** Stack config set right after `stack init`; secrets go through stdin. */
  config?: Readonly<Record<string, { value: string; secret?: boolean }>>;
  /** Folders put first on PATH: where `pulumi`, its plugins and Node.js are found. */
  pathPrefix?: readonly string[];
  /** The environment the child's is made from (default `process.env`); see `pulumiProcessEnv`. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Keep the stack's config file in the temporary folder, not in `projectDir` (default true). */
  configOutsideProject?: boolean;
  /** Default: a random `cli-…` name. */
  stackName?: string;
  timeoutMs?: number;
  command?: string;
}

/**
 * Runs `fn` against a fresh stack of the project in `projectDir` on a
 * temporary file backend with its own PULUMI_HOME, then destroys (unless
 * `fn` just did) and removes the stack and deletes the temporary folder,
 * whatever happened.
 */
export async function withCliStack<T>(options: TempCliStackOptions, fn: (stack: PulumiCliStack) => Promise<T>): Promise<T> {
  const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-cli-"));
  const backendDir = path.join(scratch, "backend");
  const pulumiHome = path.join(scratch, "home");
  mkdirSync(backendDir);
  mkdirSync(pulumiHome);
  const name = options.stackName ?? randomStackName("cli");
  const stack = new PulumiCliStack({
    projectDir: options.projectDir,
    stack: name,
    env: pulumiProcessEnv({ backendDir, pulumiHome, passphrase: options.passphrase, pathPrefix: options.pathPrefix, base: options.baseEnv }),
    configFile: options.configOutsideProject === false ? undefined : path.join(scratch, `Pulumi.${name}.yaml`),
    timeoutMs: options.timeoutMs,
    command: options.command,
  });
  let created = false;
  try {
    await stack.init();
    created = true;
    if (options.config) await stack.setAllConfig(options.config);
    return await fn(stack);
  } finally {
    if (created) {
      if (!stack.destroyed) await stack.destroy({ allowFailure: true }).catch(() => undefined);
      await stack.remove({ force: true, allowFailure: true }).catch(() => undefined);
    }
    rmSync(scratch, { recursive: true, force: true });
  }
}
