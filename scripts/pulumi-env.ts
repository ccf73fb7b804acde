/**
 * @module
 * The environment every `pulumi` of this repository runs with (the demo, the
 * benchmarks, the tests): a file backend, a passphrase secrets provider, no
 * update check, no plugin downloads, and none of the caller's own Pulumi or
 * Klarefi settings leaking in.
 */

/** Where a throwaway or demo stack keeps its state and how its secrets are encrypted. */
export interface OfflinePulumiOptions {
  /** The file backend's folder (`PULUMI_BACKEND_URL=file://<backendDir>`). */
  backendDir: string;
  /** `PULUMI_HOME`: plugins, credentials and workspace settings of these runs only. */
  pulumiHome: string;
  /** `PULUMI_CONFIG_PASSPHRASE` of the passphrase secrets provider. */
  passphrase: string;
}

/**
 * Variables that keep the Pulumi CLI offline and local. Use it alone where
 * the caller adds the rest of the environment (the Automation API's
 * `envVars`); {@link pulumiProcessEnv} gives a whole environment for a child.
 */
export function offlinePulumiEnv(options: OfflinePulumiOptions): Record<string, string> {
  return {
    PULUMI_BACKEND_URL: `file://${options.backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: options.passphrase,
    PULUMI_HOME: options.pulumiHome,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
  };
}

/**
 * Settings of the caller's own shell that would redirect or re-key these runs
 * (another passphrase file, Pulumi Cloud, a selected stack, a real Klarefi key
 * or URL): removed, so stack config alone decides where the provider goes.
 */
export const AMBIENT_VARIABLES_REMOVED = [
  "PULUMI_CONFIG_PASSPHRASE_FILE",
  "PULUMI_ACCESS_TOKEN",
  "PULUMI_STACK",
  "KLAREFI_API_KEY",
  "KLAREFI_BASE_URL",
] as const;

/**
 * A complete environment for a `pulumi` child process: `base` (the current
 * environment unless given) without {@link AMBIENT_VARIABLES_REMOVED}, with
 * `pathPrefix` folders put first on PATH (where `pulumi`, its plugins and the
 * Node.js to use are found), plus {@link offlinePulumiEnv}.
 */
export function pulumiProcessEnv(
  options: OfflinePulumiOptions & { pathPrefix?: readonly string[]; base?: NodeJS.ProcessEnv },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...(options.base ?? process.env) };
  for (const name of AMBIENT_VARIABLES_REMOVED) delete env[name];
  const delimiter = process.platform === "win32" ? ";" : ":";
  const prefix = options.pathPrefix ?? [];
  return {
    ...env,
    PATH: [...prefix, ...(env.PATH === undefined || env.PATH === "" ? [] : [env.PATH])].join(delimiter),
    ...offlinePulumiEnv(options),
  };
}
