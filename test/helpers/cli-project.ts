/**
 * @module
 * A throwaway Pulumi project folder driven through the `pulumi` CLI, for the
 * tests that must kill a run the hard way (SIGKILL to the CLI and every
 * plugin it started), which the Automation API's in-process programs cannot.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runPulumi } from "../../scripts/pulumi-cli";
import { offlinePulumiEnv, randomStackName, repoRoot } from "./pulumi";

export interface CliProject {
  dir: string;
  env: NodeJS.ProcessEnv;
  stack: string;
  backendDir: string;
  pulumi(args: string[], extraEnv?: Record<string, string>): Promise<{ status: number | null; output: string }>;
  cleanup(): Promise<void>;
}

/**
 * A project folder under the repository's git-ignored `.klarefi/` (so the
 * provider resolves `@klarefi/pulumi`), with `program` as its `index.js`, a
 * fresh file backend and `extraEnv` for every run.
 */
export function cliProject(name: string, program: string, extraEnv: Record<string, string> = {}): CliProject {
  const base = path.join(repoRoot, ".klarefi", "tmp");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, "cli-"));
  const backendDir = mkdtempSync(path.join(tmpdir(), "klarefi-backend-"));
  const home = path.join(dir, ".home");
  mkdirSync(home);
  writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n`);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, private: true, main: "index.js" }));
  writeFileSync(path.join(dir, "index.js"), program);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...offlinePulumiEnv(backendDir, home),
    ...extraEnv,
    PATH: `${path.join(repoRoot, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
  };
  const stack = randomStackName("cli");
  // Asynchronous on purpose: the Klarefi server runs in this process and must keep answering.
  const pulumi = (args: string[], runEnv: Record<string, string> = {}) =>
    runPulumi([...args, "--non-interactive", "--stack", stack], { cwd: dir, env: { ...env, ...runEnv }, timeoutMs: 180_000 }).then(
      (result) => ({ status: result.code as number | null, output: `${result.stdout}\n${result.stderr}` }),
      (error: unknown) => ({ status: -1 as number | null, output: String(error) }),
    );
  return {
    dir,
    env,
    stack,
    backendDir,
    pulumi,
    async cleanup() {
      await pulumi(["destroy", "--yes", "--skip-preview"]);
      await pulumi(["stack", "rm", "--yes", "--force"]);
      rmSync(dir, { recursive: true, force: true });
      rmSync(backendDir, { recursive: true, force: true });
    },
  };
}

/** Throws with the run's last output unless it succeeded. */
export function expectOk(result: { status: number | null; output: string }): void {
  if (result.status !== 0) throw new Error(`pulumi failed (${result.status}):\n${result.output.slice(-3000)}`);
}

/**
 * SIGKILLs every process whose environment holds `marker`. The CLI starts its
 * plugins in process groups of their own, so killing the CLI's group leaves
 * them behind, as a crash would; the test must not.
 */
export function killProcessesWithEnv(marker: string): number {
  let killed = 0;
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, "latin1").includes(marker)) {
        process.kill(Number(pid), "SIGKILL");
        killed += 1;
      }
    } catch {
      // The process ended meanwhile, or is not ours to read.
    }
  }
  return killed;
}

/** Removes the file backend's locks that a killed run left behind (the documented recovery). */
export function clearFileBackendLocks(backendDir: string): boolean {
  const locks = path.join(backendDir, ".pulumi", "locks");
  const held = readdirSync(locks, { recursive: true }).some((f) => String(f).endsWith(".json"));
  rmSync(locks, { recursive: true, force: true });
  return held;
}

/** A `pulumi up` started in the background, to be interrupted or killed the hard way. */
export interface KillableRun {
  /** SIGKILLs the CLI's process group and every plugin it started, and waits for the CLI to exit. */
  killHard(): Promise<void>;
  /** Sends SIGINT to the CLI alone (as Ctrl-C does) and waits for it to exit; resolves to its exit code. */
  interrupt(): Promise<number | null>;
}

/** Starts `pulumi up --yes --skip-preview` on a project in its own process group. */
export function startKillableUp(project: { dir: string; env: NodeJS.ProcessEnv; stack: string }): KillableRun {
  const run = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", project.stack], {
    cwd: project.dir,
    env: project.env,
    detached: true,
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((resolve) => run.on("exit", (code) => resolve(code)));
  return {
    async interrupt() {
      if (run.pid === undefined) throw new Error("pulumi up was started but has no pid; nothing to interrupt.");
      process.kill(run.pid, "SIGINT");
      return exited;
    },
    async killHard() {
      // Without a pid, -(pid ?? 0) would be 0: the test runner's own process group.
      if (run.pid === undefined) throw new Error("pulumi up was started but has no pid; nothing to kill.");
      process.kill(-run.pid, "SIGKILL");
      await exited;
      killProcessesWithEnv(`PULUMI_HOME=${project.env.PULUMI_HOME}`);
    },
  };
}
