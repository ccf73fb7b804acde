import { API_KEY_PATTERN, DEFAULT_BASE_URL, Klarefi } from "../client/klarefi";
import { KlarefiConfigError } from "../client/errors";
import { UsageError, type CliIo } from "./io";

/**
 * Builds the client of one CLI run: the key from KLAREFI_API_KEY only (the
 * CLI has no --api-key flag, so keys stay out of shell history), the base
 * URL from `--base-url`, then KLAREFI_BASE_URL, then the public API.
 */
export function clientFromEnvironment(io: CliIo, command: string, baseUrlFlag: string | undefined): Klarefi {
  const apiKey = io.env.KLAREFI_API_KEY;
  if (apiKey === undefined || apiKey.trim() === "") {
    throw new KlarefiConfigError(
      "KLAREFI_API_KEY is not set: export KLAREFI_API_KEY=sk_test_... (for `klarefi dev` the local test key is sk_test_klarefi_local_0000000000000000)",
    );
  }
  if (!API_KEY_PATTERN.test(apiKey)) {
    throw new KlarefiConfigError(
      "KLAREFI_API_KEY is malformed: it must look like sk_test_… or sk_live_… followed by at least 8 letters, digits or underscores",
    );
  }
  const envBaseUrl = io.env.KLAREFI_BASE_URL;
  const baseUrl = baseUrlFlag ?? (envBaseUrl !== undefined && envBaseUrl !== "" ? envBaseUrl : DEFAULT_BASE_URL);
  const source = baseUrlFlag !== undefined ? "--base-url" : "KLAREFI_BASE_URL";
  if (!/^https?:\/\/[^\s]+$/.test(baseUrl) || !URL.canParse(baseUrl)) {
    const message = `${source} must be an http:// or https:// URL such as http://127.0.0.1:4010`;
    if (baseUrlFlag !== undefined) throw new UsageError(message, command);
    throw new KlarefiConfigError(message);
  }
  return new Klarefi({ apiKey, baseUrl });
}
