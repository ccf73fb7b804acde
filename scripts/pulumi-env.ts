/**
 * Environment that keeps the Pulumi CLI offline and local: a file backend, a
 * passphrase secrets provider, no update check, no plugin downloads. The demo,
 * the benchmarks and the tests all run `pulumi` with it.
 */
export function offlinePulumiEnv(options: { backendDir: string; pulumiHome: string; passphrase: string }): Record<string, string> {
  return {
    PULUMI_BACKEND_URL: `file://${options.backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: options.passphrase,
    PULUMI_HOME: options.pulumiHome,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
  };
}
