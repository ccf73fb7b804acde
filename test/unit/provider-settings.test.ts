import { afterEach, describe, expect, it, vi } from "vitest";
import { Klarefi } from "../../client/klarefi";
import { ClientSettings, resolveClientSettings } from "../../client/settings";
import { refusePlaintextApiKey } from "../../provider/config-guard";
import { plaintextKeyMessage } from "../../provider/plugin/server";
import {
  PROVIDER_MISSING_KEY,
  ProviderConnection,
  secretApiKeyCommand,
  settingsFromConfig,
} from "../../provider/settings";

/**
 * The provider's settings (provider/settings.ts): stack config and the
 * environment are read once and checked once, and the client is built from
 * what was checked.
 */

const KEY = "sk_test_provider_settings_0123456789";

function stackConfig(values: Record<string, string>) {
  return { get: (key: string) => values[key] };
}

/** Counts reads of KLAREFI_* variables through process.env while `run` runs. */
async function countingEnvReads(run: () => Promise<void>): Promise<Record<string, number>> {
  const reads: Record<string, number> = {};
  const original = process.env;
  process.env = new Proxy(original, {
    get(target, name, receiver) {
      if (typeof name === "string" && name.startsWith("KLAREFI_")) reads[name] = (reads[name] ?? 0) + 1;
      return Reflect.get(target, name, receiver) as unknown;
    },
  });
  try {
    await run();
  } finally {
    process.env = original;
  }
  return reads;
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("configuring the provider from stack config", () => {
  it("checks the settings once, not again when the client is built", async () => {
    const parse = vi.spyOn(ClientSettings, "safeParse");
    const connection = new ProviderConnection();
    await connection.configureFrom(stackConfig({ "klarefi:apiKey": KEY, "klarefi:baseUrl": "http://127.0.0.1:9" }));
    const client = await connection.client();
    expect(client.baseUrl).toBe("http://127.0.0.1:9");
    expect(parse).toHaveBeenCalledTimes(1);
    await client.close();
  });

  it("reads each KLAREFI_ variable once, and the client reads none", async () => {
    vi.stubEnv("KLAREFI_BASE_URL", "http://127.0.0.1:8");
    let client: Klarefi | undefined;
    const reads = await countingEnvReads(async () => {
      const connection = new ProviderConnection();
      await connection.configureFrom(stackConfig({ "klarefi:apiKey": KEY }));
      client = await connection.client();
    });
    expect(client?.baseUrl).toBe("http://127.0.0.1:8");
    expect(reads).toEqual({ KLAREFI_API_KEY: 1, KLAREFI_BASE_URL: 1 });
    await client?.close();
  });

  it("gives the client the provider's defaults: 8 requests in flight and 6 retries", async () => {
    const connection = new ProviderConnection();
    await connection.configureFrom(stackConfig({ "klarefi:apiKey": KEY, "klarefi:baseUrl": "http://127.0.0.1:9" }));
    const client = await connection.client();
    expect({ maxConcurrency: client.maxConcurrency, maxRetries: client.maxRetries }).toEqual({ maxConcurrency: 8, maxRetries: 6 });
    await client.close();
  });

  it("uses the provider's wording for a missing key even when a method runs before configure", async () => {
    vi.stubEnv("KLAREFI_API_KEY", "");
    const error = await new ProviderConnection().client().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toBe(PROVIDER_MISSING_KEY);
  });
});

describe("Klarefi.fromSettings", () => {
  it("takes settings already resolved and reads nothing from the environment", async () => {
    vi.stubEnv("KLAREFI_API_KEY", "not a key at all");
    vi.stubEnv("KLAREFI_BASE_URL", "ftp://nowhere");
    const settings = resolveClientSettings({ apiKey: { value: KEY, from: "a test" }, baseUrl: { value: "http://127.0.0.1:7", from: "a test" }, maxRetries: { value: 1, from: "a test" } }, "no key");
    const client = Klarefi.fromSettings(settings);
    expect(client.toJSON()).toEqual({ baseUrl: "http://127.0.0.1:7", timeoutMs: 30_000, maxRetries: 1, maxConcurrency: 16 });
    await client.close();
  });

  it("is the same as the constructor given the same settings", async () => {
    const settings = settingsFromConfig(stackConfig({ "klarefi:apiKey": KEY, "klarefi:baseUrl": "http://127.0.0.1:6", "klarefi:maxRetries": "2" }), {});
    const built = new Klarefi({ apiKey: KEY, baseUrl: "http://127.0.0.1:6", maxRetries: 2, maxConcurrency: 8 });
    const resolved = Klarefi.fromSettings(settings);
    expect(resolved.toJSON()).toEqual(built.toJSON());
    await Promise.all([built.close(), resolved.close()]);
  });
});

describe("the command that stores the key encrypted", () => {
  it("is spelled by one function in every message that gives it", () => {
    expect(secretApiKeyCommand("prod")).toBe("pulumi config set --secret klarefi:apiKey <your API key> --stack prod");
    expect(PROVIDER_MISSING_KEY).toContain(`\`${secretApiKeyCommand()}\``);
    expect(plaintextKeyMessage("urn:pulumi:prod::claims::pulumi:providers:klarefi::default")).toContain(`    ${secretApiKeyCommand("prod")}`);
    expect(() => refusePlaintextApiKey(KEY, () => false, "prod")).toThrow(`    ${secretApiKeyCommand("prod")}`);
  });
});
