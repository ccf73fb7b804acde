/**
 * @module
 * The engine side of the bench: a state backend (a temporary folder, or a
 * bucket on a local S3-compatible server), throwaway stacks of inline
 * programs on it, timed operations with a time bound each, and the size of
 * the checkpoint the backend stores.
 *
 * Inline programs through the Automation API, as the e2e tests use them:
 * the program runs in this process, the engine and the dynamic provider in
 * their own processes, exactly as for a user's `pulumi up`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { LocalWorkspace, type OpMap, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";
import { offlinePulumiEnv } from "../scripts/pulumi-env";
import { type CpuSeconds, cpuMeter } from "./cpu";
import { installedMotoServer, type RunningS3Server, S3ServerError, startS3Server } from "../scripts/s3-server";

/** The repository root (the bench runs from dist/bench/). */
export const repoRoot = path.resolve(__dirname, "../..");

const PASSPHRASE = "klarefi-bench";

/** Where the bench's stacks keep their state. */
export interface BenchBackend {
  kind: "file" | "s3";
  /** `PULUMI_BACKEND_URL`. */
  url: string;
  /** Variables every `pulumi` of the bench needs for this backend. */
  env: Record<string, string>;
  /** The checkpoint as stored (`.pulumi/stacks/<project>/<stack>.json`): its size in bytes and its text. */
  checkpoint(project: string, stack: string): Promise<{ bytes: number; text: string }>;
  /** Stops the server (S3) and deletes the state. */
  close(): Promise<void>;
}

/** A file backend in a fresh temporary folder. */
export function fileBackend(): BenchBackend {
  const dir = mkdtempSync(path.join(tmpdir(), "klarefi-bench-state-"));
  return {
    kind: "file",
    url: `file://${dir}`,
    env: {},
    async checkpoint(project, stack) {
      const folder = path.join(dir, ".pulumi", "stacks", project);
      const file = path.join(folder, `${stack}.json`);
      if (!existsSync(file)) {
        const found = existsSync(folder) ? readdirSync(folder).filter((f) => f.startsWith(`${stack}.json`)) : [];
        throw new Error(`No uncompressed checkpoint at ${file}${found.length > 0 ? ` (found ${found.join(", ")})` : ""}.`);
      }
      return { bytes: statSync(file).size, text: readFileSync(file, "utf8") };
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A bucket on moto's S3 server (scripts/s3-server.ts), started for this run. */
export async function s3Backend(): Promise<BenchBackend> {
  ensureS3Server();
  const s3: RunningS3Server = await startS3Server();
  return {
    kind: "s3",
    url: s3.backendUrl,
    env: s3.env,
    async checkpoint(project, stack) {
      const text = await s3.getObject(`.pulumi/stacks/${project}/${stack}.json`);
      return { bytes: Buffer.byteLength(text, "utf8"), text };
    },
    close: () => s3.stop(),
  };
}

/**
 * `--backend s3` is the one bench run that needs moto's S3 server, which
 * `npm run bench`'s own setup leaves out (it is a test extra): set it up here,
 * once (cached outside the repository), when neither the installed server nor
 * `KLAREFI_MOTO_SERVER` is there. Throws S3ServerError when setup fails.
 */
function ensureS3Server(): void {
  if (process.env.KLAREFI_MOTO_SERVER !== undefined || existsSync(installedMotoServer())) return;
  const setup = spawnSync("bash", [path.join(repoRoot, "scripts", "setup.sh"), "--with", "s3"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  if (setup.status !== 0) throw new S3ServerError(`scripts/setup.sh --with s3 exited with ${setup.status ?? setup.signal}: see its output above.`);
}

/** How every engine operation of a run is made. */
export interface EngineSettings {
  /** `PULUMI_SKIP_CHECKPOINTS=true`: the engine writes state once, at the end. */
  skipCheckpoints: boolean;
  /** `--parallel`; undefined leaves the CLI's default. */
  parallel: number | undefined;
  /** Each operation is cancelled (SIGINT) after this long and the bench fails. */
  opTimeoutMs: number;
}

/** A timed operation: how long it took, the CPU it used, and what the engine said it changed. */
export interface Timed {
  seconds: number;
  cpu: CpuSeconds;
  changes: OpMap;
}

/** One throwaway stack of an inline program. */
export class BenchStack {
  private constructor(
    readonly stack: Stack,
    readonly projectName: string,
    readonly stackName: string,
    private readonly backend: BenchBackend,
    private readonly settings: EngineSettings,
    private readonly scratch: string,
    /** This stack's `PULUMI_HOME`: its value marks the processes of its runs (rss.ts). */
    readonly pulumiHome: string,
  ) {}

  /**
   * Creates the stack with the passphrase secrets provider and `config`. The
   * work folder sits under the repository (git-ignored `.klarefi/tmp/`), so
   * that the dynamic provider, which runs there, finds `@klarefi/pulumi` by
   * package name.
   */
  static async create(options: {
    backend: BenchBackend;
    settings: EngineSettings;
    projectName: string;
    stackName: string;
    program: PulumiFn;
    config?: Record<string, { value: string; secret?: boolean }>;
  }): Promise<BenchStack> {
    const base = path.join(repoRoot, ".klarefi", "tmp");
    mkdirSync(base, { recursive: true });
    const scratch = mkdtempSync(path.join(base, `bench-${options.stackName}-`));
    const workDir = path.join(scratch, "work");
    const pulumiHome = path.join(scratch, "home");
    mkdirSync(workDir);
    mkdirSync(pulumiHome);
    const envVars = {
      ...offlinePulumiEnv({ backendDir: scratch, pulumiHome, passphrase: PASSPHRASE }),
      ...options.backend.env,
      PULUMI_BACKEND_URL: options.backend.url,
      ...(options.settings.skipCheckpoints ? { PULUMI_SKIP_CHECKPOINTS: "true" } : {}),
    };
    try {
      const stack = await LocalWorkspace.createStack(
        { stackName: options.stackName, projectName: options.projectName, program: options.program },
        {
          workDir,
          envVars,
          secretsProvider: "passphrase",
          projectSettings: { name: options.projectName, runtime: "nodejs", backend: { url: options.backend.url } },
        },
      );
      if (options.config) await stack.setAllConfig(options.config);
      return new BenchStack(stack, options.projectName, options.stackName, options.backend, options.settings, scratch, pulumiHome);
    } catch (error) {
      rmSync(scratch, { recursive: true, force: true });
      throw error;
    }
  }

  /** The Pulumi CLI's version, for the report. */
  get pulumiVersion(): string {
    return (this.stack.workspace as LocalWorkspace).pulumiVersion;
  }

  /** `pulumi up`. */
  up(what: string): Promise<Timed> {
    return this.timed(what, async (signal) => {
      const result = await this.stack.up({ signal, ...this.parallel() });
      return result.summary.resourceChanges ?? {};
    });
  }

  /**
   * `pulumi up`, interrupted as Ctrl-C would: once `interruptWhen()` holds,
   * SIGINT goes to `pulumi` (the Automation API's abort). Resolves with the
   * seconds from the SIGINT to the run's end; an `up` that finishes before
   * the condition holds is an error.
   */
  async interruptedUp(what: string, interruptWhen: () => boolean): Promise<{ stopSeconds: number }> {
    const controller = new AbortController();
    const deadline = AbortSignal.timeout(this.settings.opTimeoutMs);
    let sentAt: number | undefined;
    const poll = setInterval(() => {
      if (sentAt === undefined && interruptWhen()) {
        sentAt = performance.now();
        controller.abort();
      }
    }, 20);
    try {
      await this.stack.up({ signal: AbortSignal.any([controller.signal, deadline]), ...this.parallel() });
    } catch {
      // The interrupted run fails; that is the point.
    } finally {
      clearInterval(poll);
    }
    if (sentAt === undefined) throw new Error(`${what} finished before it could be interrupted; give a smaller --interrupt-at.`);
    return { stopSeconds: (performance.now() - sentAt) / 1000 };
  }

  /** `pulumi preview`. */
  preview(what: string): Promise<Timed> {
    return this.timed(what, async (signal) => (await this.stack.preview({ signal, ...this.parallel() })).changeSummary);
  }

  /** `pulumi refresh` (without running the program). */
  refresh(what: string): Promise<Timed> {
    return this.timed(what, async (signal) => {
      const result = await this.stack.refresh({ signal, ...this.parallel() });
      return result.summary.resourceChanges ?? {};
    });
  }

  /** `pulumi destroy`. */
  destroy(what: string): Promise<Timed> {
    return this.timed(what, async (signal) => {
      const result = await this.stack.destroy({ signal, ...this.parallel() });
      return result.summary.resourceChanges ?? {};
    });
  }

  /** The stored checkpoint of this stack. */
  checkpoint(): Promise<{ bytes: number; text: string }> {
    return this.backend.checkpoint(this.projectName, this.stackName);
  }

  /** Removes the stack (with whatever it still holds) and its folders. */
  async remove(): Promise<void> {
    try {
      await this.stack.workspace.removeStack(this.stackName, { force: true });
    } catch {
      // Already gone, or the backend is; the folders go below either way.
    } finally {
      rmSync(this.scratch, { recursive: true, force: true });
    }
  }

  private parallel(): { parallel?: number } {
    return this.settings.parallel === undefined ? {} : { parallel: this.settings.parallel };
  }

  private async timed(what: string, run: (signal: AbortSignal) => Promise<OpMap>): Promise<Timed> {
    const signal = AbortSignal.timeout(this.settings.opTimeoutMs);
    const started = performance.now();
    const cpu = cpuMeter();
    try {
      const changes = await run(signal);
      return { seconds: (performance.now() - started) / 1000, cpu: cpu(), changes };
    } catch (error) {
      const reason = signal.aborted
        ? `ran longer than ${Math.round(this.settings.opTimeoutMs / 1000)} s and was cancelled (raise --op-timeout-s)`
        : `failed: ${firstLines(error instanceof Error ? error.message : String(error))}`;
      throw new Error(`${what} ${reason}`, { cause: error });
    }
  }
}

/** `" (engine CPU 1.23 s)"`, or nothing off Linux. */
export function engineCpu(timed: Timed): string {
  return timed.cpu.engine === undefined ? "" : ` (engine CPU ${timed.cpu.engine.toFixed(2)} s)`;
}

/** The first lines of a long Automation API error (it carries the whole CLI output). */
function firstLines(text: string, max = 12): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.length <= max ? lines.join("\n") : `${lines.slice(0, max).join("\n")}\n… (${lines.length - max} more lines)`;
}

/** Bytes and count of the resources of each type in a checkpoint (compact JSON, as a rough share of the stored file). */
export function stateByType(checkpointText: string): Record<string, { count: number; bytes_each: number }> {
  const parsed = JSON.parse(checkpointText) as { checkpoint?: { latest?: { resources?: { type?: string }[] } } };
  const resources = parsed.checkpoint?.latest?.resources ?? [];
  const byType: Record<string, { count: number; bytes: number }> = {};
  for (const r of resources) {
    const type = r.type ?? "?";
    const entry = (byType[type] ??= { count: 0, bytes: 0 });
    entry.count += 1;
    entry.bytes += JSON.stringify(r).length;
  }
  return Object.fromEntries(Object.entries(byType).map(([type, e]) => [type, { count: e.count, bytes_each: Math.round(e.bytes / e.count) }]));
}

/** Fails unless `changes` holds nothing but unchanged resources (a no-change preview must be really no change). */
export function assertNoChange(what: string, changes: OpMap): void {
  const changed = Object.entries(changes).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);
  if (changed.length > 0) {
    throw new Error(
      `${what} expected no change, but the engine planned ${changed.map(([op, n]) => `${n} ${op}`).join(", ")}: ` +
        `the bench program changed its inputs between runs, and every figure after this would be wrong.`,
    );
  }
}
