import { afterEach, describe, expect, it, vi } from "vitest";
import { KlarefiConfigError, redactSecrets } from "../../client/errors";
import { LOCAL_TEST_API_KEY } from "../../contract/fields";
import { Klarefi } from "../../client/klarefi";
import { ClientSettings, resolveClientSettings } from "../../client/settings";
import { clientVersion } from "../../client/transport";
import { IntakeSessionProviderImpl } from "../../provider/intake-session/provider";
import { PROVIDER_MISSING_KEY, settingsFromConfig } from "../../provider/settings";
import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * One settings schema for the client options, the provider's stack config and
 * the CLI: every refusal names where the value came from, and only the
 * provider talks about `pulumi config set`.
 */

const KEY = "sk_test_klarefi_settings_0123456789";
const NO_ENV: Record<string, string | undefined> = {};

function stackConfig(values: Record<string, string>) {
  return { get: (key: string) => values[key] };
}

function thrown(fn: () => unknown): KlarefiConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KlarefiConfigError);
    return error as KlarefiConfigError;
  }
  throw new Error("expected a KlarefiConfigError");
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("klarefi:maxConcurrentRequests and the client's maxConcurrency", () => {
  it("refuses klarefi:maxConcurrentRequests 0 naming the key, instead of quietly using 8", () => {
    const error = thrown(() => settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY, "klarefi:maxConcurrentRequests": "0" }), NO_ENV));
    expect(error.message).toBe('Stack config klarefi:maxConcurrentRequests must be a whole number from 1, got "0".');
    expect(error.param).toBe("maxConcurrency");
  });

  it.each(["-1", "1.5", "many"])("refuses klarefi:maxConcurrentRequests %s", (value) => {
    const error = thrown(() => settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY, "klarefi:maxConcurrentRequests": value }), NO_ENV));
    expect(error.message).toContain("klarefi:maxConcurrentRequests must be a whole number from 1");
  });

  it.each([
    [{ "klarefi:baseUrl": "http://127.0.0.1:4011" }, { KLAREFI_BASE_URL: "http://127.0.0.1:1" }, "stack config klarefi:baseUrl"],
    [{}, { KLAREFI_BASE_URL: "http://127.0.0.1:1" }, "KLAREFI_BASE_URL"],
    [{}, {}, "stack config klarefi:baseUrl (not set, so the default)"],
  ])("with config %j and environment %j, says the base URL came from %s", (config, env, from) => {
    expect(settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY, ...config }), env).baseUrlFrom).toBe(from);
  });

  it("accepts klarefi:maxRetries 0 and reads numbers given as text", () => {
    const settings = settingsFromConfig(
      stackConfig({ "klarefi:apiKey": KEY, "klarefi:maxConcurrentRequests": "3", "klarefi:maxRetries": "0" }),
      NO_ENV,
    );
    expect(settings).toMatchObject({ maxConcurrency: 3, maxRetries: 0 });
  });

  it("does not turn a maxConcurrentRequests of 0 given to configure into the default", async () => {
    const impl = new IntakeSessionProviderImpl();
    const error = await impl.connection.configure({ apiKey: KEY, baseUrl: "http://127.0.0.1:9", maxConcurrentRequests: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KlarefiConfigError);
    expect((error as Error).message).toBe("The maxConcurrentRequests setting must be a whole number from 1, got 0.");
  });

  it("refuses a client maxConcurrency of 0 with a sentence naming the option", () => {
    const error = thrown(() => new Klarefi({ apiKey: KEY, maxConcurrency: 0 }));
    expect(error.message).toBe("The maxConcurrency option must be a whole number from 1, got 0.");
  });
});

describe("a missing key", () => {
  it("is explained without Pulumi commands by the generic client", () => {
    vi.stubEnv("KLAREFI_API_KEY", "");
    const error = thrown(() => new Klarefi());
    expect(error.code).toBe("api_key_missing");
    expect(error.message).not.toContain("pulumi config set");
  });

  it("is explained by the provider with the exact command that sets it as a secret", () => {
    const error = thrown(() => settingsFromConfig(stackConfig({}), NO_ENV));
    expect(error.message).toBe(PROVIDER_MISSING_KEY);
    expect(error.message).toContain("`pulumi config set --secret klarefi:apiKey <your API key>`");
  });

  it("is explained with the provider's words when an operation runs before configure and the environment has none", async () => {
    vi.stubEnv("KLAREFI_API_KEY", "");
    const impl = new IntakeSessionProviderImpl();
    const error = await impl.read("ses_1", {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toBe(PROVIDER_MISSING_KEY);
  });
});

describe("where a refused value came from", () => {
  it("names the stack config key of a malformed klarefi:apiKey, not the apiKey option, and never echoes it", () => {
    const error = thrown(() => settingsFromConfig(stackConfig({ "klarefi:apiKey": "pk_live_notaklarefikey" }), NO_ENV));
    expect(error.message).toContain("The Klarefi API key from stack config klarefi:apiKey is malformed");
    expect(error.message).not.toContain("apiKey option");
    expect(error.message).not.toContain("pk_live_notaklarefikey");
  });

  it("names KLAREFI_API_KEY when the provider's key came from the environment", () => {
    const error = thrown(() => settingsFromConfig(stackConfig({}), { KLAREFI_API_KEY: "sk_test_short" }));
    expect(error.message).toContain("from KLAREFI_API_KEY is malformed");
  });

  it("blames a bad base URL from stack config on klarefi:baseUrl, not on KLAREFI_BASE_URL", () => {
    const error = thrown(() =>
      settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY, "klarefi:baseUrl": "ftp://api.klarefi.com" }), { KLAREFI_BASE_URL: "http://127.0.0.1:4010" }),
    );
    expect(error.message).toMatch(/^Stack config klarefi:baseUrl must be an http:\/\/ or https:\/\/ URL/);
    expect(error.message).not.toContain("KLAREFI_BASE_URL");
  });

  it("blames a bad base URL from the environment on KLAREFI_BASE_URL", () => {
    const error = thrown(() => settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY }), { KLAREFI_BASE_URL: "127.0.0.1:4010" }));
    expect(error.message).toMatch(/^KLAREFI_BASE_URL must be an http:\/\/ or https:\/\/ URL/);
  });

  it("prefers stack config to the environment and takes the environment's values when config has none", () => {
    const env = { KLAREFI_API_KEY: "sk_test_fromenvironment", KLAREFI_BASE_URL: "http://127.0.0.1:1" };
    const origin = (settings: ClientSettings) => ({ apiKey: settings.apiKey, baseUrl: settings.baseUrl.origin });
    expect(origin(settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY }), env))).toEqual({ apiKey: KEY, baseUrl: "http://127.0.0.1:1" });
    expect(origin(settingsFromConfig(stackConfig({ "klarefi:baseUrl": "https://api.example.test" }), env))).toEqual({
      apiKey: "sk_test_fromenvironment",
      baseUrl: "https://api.example.test",
    });
  });

  it("keeps a stack config error for every later operation rather than falling back to the environment", async () => {
    vi.stubEnv("KLAREFI_API_KEY", KEY);
    const impl = new IntakeSessionProviderImpl();
    await impl.connection.configureFrom(stackConfig({ "klarefi:apiKey": "sk_test_x" }));
    const checked = await impl.check({}, {});
    expect(checked.failures).toHaveLength(1);
    expect(checked.failures[0]?.reason).toContain("from stack config klarefi:apiKey is malformed");
    const later = await impl.delete("ses_1").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((later as Error).message).toBe(checked.failures[0]?.reason);
  });
});

describe("a base URL ending in /api/v1", () => {
  it.each([
    ["the baseUrl option", () => new Klarefi({ apiKey: KEY, baseUrl: "https://api.klarefi.com/api/v1" }), /^The baseUrl option ends in \/api\/v1/],
    ["KLAREFI_BASE_URL", () => settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY }), { KLAREFI_BASE_URL: "http://127.0.0.1:4010/api/v1/" }), /^KLAREFI_BASE_URL ends in \/api\/v1/],
    ["stack config klarefi:baseUrl", () => settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY, "klarefi:baseUrl": "http://127.0.0.1:4010/api/v1" }), NO_ENV), /^Stack config klarefi:baseUrl ends in \/api\/v1/],
  ])("is refused from %s with the advice to drop the suffix", (_source, build, start) => {
    const error = thrown(build);
    expect(error.code).toBe("base_url_api_suffix");
    expect(error.message).toMatch(start);
    expect(error.message).toContain("drop the suffix");
  });

  it("is the only path that is refused: a proxy prefix is kept", async () => {
    const klarefi = new Klarefi({ apiKey: KEY, baseUrl: "https://gateway.example.test/klarefi" });
    expect(klarefi.baseUrl).toBe("https://gateway.example.test/klarefi");
    await klarefi.close();
  });
});

describe("ClientSettings", () => {
  it("fills the client's defaults", () => {
    const settings = resolveClientSettings({ apiKey: { value: KEY, from: "a test" } }, "no key");
    expect(settings).toMatchObject({ timeoutMs: 30_000, maxRetries: 3, maxConcurrency: 16, initialDelayMs: 500, maxDelayMs: 8_000 });
    expect(settings.baseUrl.href).toBe("https://api.klarefi.com/");
  });

  it("paces and gives 429s an allowance of 10 retries by default; both can be set, from text too", () => {
    const defaults = resolveClientSettings({ apiKey: { value: KEY, from: "a test" } }, "no key");
    expect(defaults).toMatchObject({ pacing: true, maxRateLimitRetries: 10 });
    expect(ClientSettings.parse({ apiKey: KEY, pacing: "off", maxRateLimitRetries: "0" })).toMatchObject({ pacing: false, maxRateLimitRetries: 0 });
    expect(() => resolveClientSettings({ apiKey: { value: KEY, from: "a test" }, pacing: { value: "sometimes", from: "the pacing option" } }, "no key")).toThrow(
      'The pacing option must be true or false, got "sometimes".',
    );
  });

  it("is one zod schema that parses text numbers like numbers", () => {
    expect(ClientSettings.parse({ apiKey: KEY, maxRetries: "2", maxConcurrency: 4 })).toMatchObject({ maxRetries: 2, maxConcurrency: 4 });
    expect(ClientSettings.safeParse({ apiKey: KEY, maxConcurrency: "0" }).success).toBe(false);
  });
});

describe("the client's version", () => {
  it("is the version in the package's own package.json", () => {
    const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string };
    expect(clientVersion()).toBe(manifest.version);
  });
});

describe("the redactor and the documented test key", () => {
  it("lets exactly the local server's documented public key through and hides every other key", () => {
    expect(redactSecrets(`export KLAREFI_API_KEY=${LOCAL_TEST_API_KEY}`)).toBe(`export KLAREFI_API_KEY=${LOCAL_TEST_API_KEY}`);
    expect(redactSecrets(`${LOCAL_TEST_API_KEY}1`)).toBe("sk_test_[redacted]");
    expect(redactSecrets(`key ${KEY}`)).toBe("key sk_test_[redacted]");
  });
});
