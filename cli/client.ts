/**
 * @module
 * Builds the client of one CLI run: the key from KLAREFI_API_KEY only (the
 * CLI has no --api-key flag, so keys stay out of shell history), the base
 * URL from `--base-url`, then KLAREFI_BASE_URL, then the public API, all
 * checked by the client's one settings schema (client/settings.ts).
 */
import { LOCAL_TEST_API_KEY } from "../contract/fields";
import { KlarefiConfigError } from "../client/errors";
import { Klarefi } from "../client/klarefi";
import { fromEnv, resolveClientSettings } from "../client/settings";
import { UsageError, type CliIo } from "./io";

/** What the CLI says when no key is set: how to set one, and the local server's documented test key. */
export const MISSING_KEY_HINT =
  `KLAREFI_API_KEY is not set: export KLAREFI_API_KEY=sk_test_... (for \`klarefi dev\` the local test key is ${LOCAL_TEST_API_KEY})`;

/**
 * The client for `command`. A `--base-url` that is not an http(s) URL is a
 * usage error (exit 2); every other settings problem, including a base URL
 * ending in /api/v1, is a `KlarefiConfigError` (exit 3).
 */
export function clientFromEnvironment(io: CliIo, command: string, baseUrlFlag: string | undefined): Klarefi {
  const flag = baseUrlFlag === undefined ? undefined : { value: baseUrlFlag, from: "--base-url" };
  const sources = {
    apiKey: fromEnv(io.env, "KLAREFI_API_KEY"),
    baseUrl: flag ?? fromEnv(io.env, "KLAREFI_BASE_URL"),
  };
  let settings;
  try {
    settings = resolveClientSettings(sources, MISSING_KEY_HINT);
  } catch (error) {
    if (error instanceof KlarefiConfigError && flag !== undefined && error.code === "base_url_invalid") {
      throw new UsageError(error.message.replace(/\.$/, ""), command);
    }
    throw error;
  }
  return new Klarefi({ apiKey: settings.apiKey, baseUrl: settings.baseUrl.href, baseUrlFrom: sources.baseUrl?.from ?? "KLAREFI_BASE_URL" });
}
