/**
 * @module
 * Programs on a generated SDK (sdk/python, sdk/go) that drive Pulumi's
 * Automation API of their own language with an inline program, one step per
 * run: `<command> up|preview|destroy|remove`, the step's result as JSON on the
 * last line of stdout. The program reads everything else from the
 * environment: KLAREFI_TEST_WORK_DIR (a folder whose Pulumi.yaml names the
 * project, the file backend and the plugin's folder), KLAREFI_TEST_STACK,
 * KLAREFI_TEST_API_KEY, KLAREFI_TEST_BASE_URL and the offline PULUMI_*
 * variables. See test/fixtures/plugin-python and test/fixtures/go-automation.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pluginSection } from "./plugin-project";
import { offlinePulumiEnv, randomStackName, repoRoot } from "./pulumi";

/** What one step reports: the engine's change counts and, after `up`, the outputs (secrets as `{ secret: true }`). */
export interface SdkStepResult {
  changes?: Record<string, number>;
  outputs?: Record<string, { value?: unknown; secret?: true }>;
}

export type SdkStep = "up" | "preview" | "destroy" | "remove";

export interface SdkProgramProject {
  step(name: SdkStep): Promise<SdkStepResult>;
  /** `remove` (destroy what is left, remove the stack), then deletes every folder. */
  cleanup(): Promise<void>;
}

/**
 * A scratch project for an SDK program: its Pulumi.yaml (`runtime`, a temp
 * file backend, the plugin's folder), PULUMI_HOME, a random stack, and a
 * runner of `command args… <step>` against `server`.
 */
export function sdkProgramProject(options: {
  projectName: string;
  runtime: string;
  command: string;
  args?: readonly string[];
  stackPrefix: string;
  server: { url: string; apiKey: string };
  /** Files to write into the project folder first, by name (e.g. a campaign's CSV). */
  files?: Record<string, string>;
}): SdkProgramProject {
  const base = path.join(repoRoot, ".klarefi", "tmp");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, `${options.stackPrefix}-`));
  const backendDir = mkdtempSync(path.join(tmpdir(), "klarefi-backend-"));
  const home = path.join(dir, ".home");
  mkdirSync(home);
  writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    `name: ${options.projectName}\nruntime: ${options.runtime}\nbackend:\n  url: file://${backendDir}\n${pluginSection()}`,
  );
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(path.join(dir, name), text);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...offlinePulumiEnv(backendDir, home),
    // The Automation API finds `pulumi` on PATH; the plugin's `node` is the project's Node.js 24.
    PATH: `${path.join(repoRoot, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    KLAREFI_TEST_WORK_DIR: dir,
    KLAREFI_TEST_STACK: randomStackName(options.stackPrefix),
    KLAREFI_TEST_API_KEY: options.server.apiKey,
    KLAREFI_TEST_BASE_URL: options.server.url,
  };
  const name = path.basename(options.args?.at(-1) ?? options.command);
  const step = (stepName: SdkStep) =>
    new Promise<SdkStepResult>((resolve, reject) => {
      execFile(
        options.command,
        [...(options.args ?? []), stepName],
        { cwd: dir, env, encoding: "utf8", timeout: 120_000, maxBuffer: 8 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) return reject(new Error(`${name} ${stepName} failed (${error.code}):\n${stderr.slice(-3000)}`));
          const last = stdout.trim().split("\n").pop() ?? "";
          resolve(JSON.parse(last) as SdkStepResult);
        },
      );
    });
  return {
    step,
    async cleanup() {
      await step("remove").catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      rmSync(backendDir, { recursive: true, force: true });
    },
  };
}
