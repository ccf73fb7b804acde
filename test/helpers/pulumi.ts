import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { offlinePulumiEnv as offlineEnv } from "../../scripts/pulumi-env";
import { LocalWorkspace, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";

export const repoRoot = path.resolve(__dirname, "../..");

/** The passphrase of every throwaway stack the tests make. */
export const TEST_PASSPHRASE = "klarefi-test-passphrase";

/** The offline environment of scripts/pulumi-env.ts with the tests' passphrase. */
export function offlinePulumiEnv(backendDir: string, pulumiHome: string): Record<string, string> {
  return offlineEnv({ backendDir, pulumiHome, passphrase: TEST_PASSPHRASE });
}

export function randomStackName(prefix = "t"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export interface TempStack {
  stack: Stack;
  stackName: string;
  backendDir: string;
  workDir: string;
  env: Record<string, string>;
}

/**
 * Runs `fn` against a fresh stack of an inline program on a temp file backend,
 * then destroys the stack and deletes every folder, whatever happened.
 *
 * The work folder sits under the repository (in the git-ignored `.klarefi/`)
 * so that the dynamic provider, which runs with it as its working directory,
 * resolves `@klarefi/pulumi` by package name.
 */
export async function withInlineStack<T>(
  options: {
    projectName?: string;
    /** A fixed stack name (an imported state's URNs name their stack); random by default. */
    stackName?: string;
    /** A `Pulumi.<stack>.yaml` to start the stack from: its `encryptionsalt` and config (e.g. from a state fixture). */
    stackSettingsFile?: string;
    program: PulumiFn;
    config?: Record<string, { value: string; secret?: boolean }>;
    env?: Record<string, string>;
  },
  fn: (t: TempStack) => Promise<T>,
): Promise<T> {
  const base = path.join(repoRoot, ".klarefi", "tmp");
  mkdirSync(base, { recursive: true });
  const scratch = mkdtempSync(path.join(base, "stack-"));
  const backendDir = mkdtempSync(path.join(tmpdir(), "klarefi-backend-"));
  const workDir = path.join(scratch, "work");
  const pulumiHome = path.join(scratch, "home");
  mkdirSync(workDir);
  mkdirSync(pulumiHome);
  const env = { ...offlinePulumiEnv(backendDir, pulumiHome), ...options.env };
  const stackName = options.stackName ?? randomStackName();
  const projectName = options.projectName ?? "klarefi-test";
  let stack: Stack | undefined;
  try {
    // `stack init` keeps the encryption salt of a settings file already in place.
    if (options.stackSettingsFile !== undefined) copyFileSync(options.stackSettingsFile, path.join(workDir, `Pulumi.${stackName}.yaml`));
    stack = await LocalWorkspace.createStack(
      { stackName, projectName, program: options.program },
      {
        workDir,
        envVars: env,
        secretsProvider: "passphrase",
        projectSettings: { name: projectName, runtime: "nodejs", backend: { url: env.PULUMI_BACKEND_URL } },
      },
    );
    if (options.config) await stack.setAllConfig(options.config);
    return await fn({ stack, stackName, backendDir, workDir, env });
  } finally {
    if (stack) {
      try {
        await stack.destroy();
      } catch {
        // The test body already failed or destroyed; removal below still runs.
      }
      try {
        await stack.workspace.removeStack(stackName, { force: true });
      } catch {
        // Nothing left to remove.
      }
    }
    rmSync(scratch, { recursive: true, force: true });
    rmSync(backendDir, { recursive: true, force: true });
  }
}

/**
 * The built package, loaded by name through Node's own `require` as a user's
 * program loads it, so the provider serialized into state is the real one
 * (not a copy transformed by the test runner).
 */
export function builtPackage(): typeof import("../../provider") {
  return createRequire(__filename)("@klarefi/pulumi");
}

/** Stack config that points the provider at a (local) Klarefi server. */
export function klarefiStackConfig(server: { url: string; apiKey: string }): Record<string, { value: string; secret?: boolean }> {
  return {
    "klarefi:apiKey": { value: server.apiKey, secret: true },
    "klarefi:baseUrl": { value: server.url },
  };
}
