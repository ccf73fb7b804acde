/**
 * @module
 * A check the program makes before any resource is registered: the API key in
 * stack config must be a secret. Only the program can tell (the provider gets
 * config values without their secret marks), and a plaintext key would sit in
 * `Pulumi.<stack>.yaml` and in the state's config.
 */
import * as pulumi from "@pulumi/pulumi";
import { API_KEY_CONFIG, secretApiKeyCommand } from "./settings";

export { API_KEY_CONFIG } from "./settings";

type SecretLookup = (key: string) => boolean;

/**
 * Throws a `pulumi.RunError` (shown once, without a stack trace) when
 * `klarefi:apiKey` is set in stack config without `--secret`, naming the
 * exact command that fixes it. The key itself is never printed.
 */
export function refusePlaintextApiKey(
  value: string | undefined = pulumi.runtime.getConfig(API_KEY_CONFIG),
  isSecret: SecretLookup | undefined = (pulumi.runtime as unknown as { isConfigSecret?: SecretLookup }).isConfigSecret,
  stack: string = pulumi.getStack(),
): void {
  if (value === undefined || value === "" || isSecret === undefined || isSecret(API_KEY_CONFIG)) return;
  throw new pulumi.RunError(
    `Stack config ${API_KEY_CONFIG} is stored in plaintext (in Pulumi.${stack}.yaml). Store it encrypted instead, then run again:\n` +
      `    ${secretApiKeyCommand(stack)}`,
  );
}
