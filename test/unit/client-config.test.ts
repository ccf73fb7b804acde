import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Klarefi, KlarefiConfigError, KlarefiError } from "../../client";

const KEY = "sk_test_klarefi_config_0123456789";

describe("Klarefi constructor", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("refuses a missing key and names every setting that can provide one", () => {
    vi.stubEnv("KLAREFI_API_KEY", "");
    const error = catchError(() => new Klarefi({}));
    expect(error).toBeInstanceOf(KlarefiConfigError);
    expect(error).toBeInstanceOf(KlarefiError);
    expect(error.message).toContain("apiKey option");
    expect(error.message).toContain("KLAREFI_API_KEY");
    expect(error.message).toContain("klarefi:apiKey");
  });

  it.each([
    ["a key of another product", "pk_test_1234567890abcdef"],
    ["a key with a short tail", "sk_test_1234"],
    ["a key with a space", "sk_test_abcdefgh ijk"],
    ["a key with a dash", "sk_test_abcd-efgh-ijkl"],
  ])("refuses %s without echoing it", (_name, key) => {
    const error = catchError(() => new Klarefi({ apiKey: key }));
    expect(error).toBeInstanceOf(KlarefiConfigError);
    expect(error.message).toContain("the apiKey option is malformed");
    expect(error.message).not.toContain(key);
  });

  it("reads the key and base URL from KLAREFI_API_KEY and KLAREFI_BASE_URL when no options are given", () => {
    vi.stubEnv("KLAREFI_API_KEY", KEY);
    vi.stubEnv("KLAREFI_BASE_URL", "http://127.0.0.1:4999");
    const klarefi = new Klarefi();
    expect(klarefi.baseUrl).toBe("http://127.0.0.1:4999");
    void klarefi.close();
  });

  it("says a malformed KLAREFI_API_KEY came from the environment", () => {
    vi.stubEnv("KLAREFI_API_KEY", "sk_prod_abcdefghijkl");
    const error = catchError(() => new Klarefi());
    expect(error.message).toContain("from KLAREFI_API_KEY is malformed");
    expect(error.message).not.toContain("sk_prod_abcdefghijkl");
  });

  it("defaults to the public API when no base URL is configured", () => {
    vi.stubEnv("KLAREFI_BASE_URL", "");
    const klarefi = new Klarefi({ apiKey: KEY });
    expect(klarefi.baseUrl).toBe("https://api.klarefi.com");
    expect(klarefi.timeoutMs).toBe(30_000);
    expect(klarefi.maxRetries).toBe(3);
    expect(klarefi.maxConcurrency).toBe(16);
    void klarefi.close();
  });

  it.each([
    ["not a URL", "api.klarefi.com"],
    ["another scheme", "ftp://api.klarefi.com"],
    ["credentials in the URL", "https://user:pw@api.klarefi.com"],
  ])("refuses a base URL that is %s", (_name, baseUrl) => {
    expect(() => new Klarefi({ apiKey: KEY, baseUrl })).toThrow(KlarefiConfigError);
  });

  it.each([
    ["timeoutMs", { timeoutMs: 0 }],
    ["maxRetries", { maxRetries: -1 }],
    ["maxConcurrency", { maxConcurrency: 1.5 }],
  ])("refuses a bad %s with a sentence naming it", (name, options) => {
    const error = catchError(() => new Klarefi({ apiKey: KEY, ...options }));
    expect(error).toBeInstanceOf(KlarefiConfigError);
    expect(error.message).toContain(name);
  });
});

describe("the key stays private", () => {
  it("is absent from inspect, JSON.stringify, toJSON, toString and the object's keys", () => {
    const klarefi = new Klarefi({ apiKey: KEY, baseUrl: "http://127.0.0.1:4999" });
    const views = [
      inspect(klarefi),
      inspect(klarefi, { showHidden: true, depth: 20, getters: true }),
      inspect(klarefi.sessions, { showHidden: true, depth: 20 }),
      inspect(klarefi.cases, { showHidden: true, depth: 20 }),
      JSON.stringify(klarefi),
      JSON.stringify(klarefi.toJSON()),
      String(klarefi),
      `${klarefi}`,
      JSON.stringify(Object.entries(klarefi)),
    ];
    for (const view of views) {
      expect(view).not.toContain(KEY);
      expect(view).not.toContain("klarefi_config");
    }
    expect(inspect(klarefi)).toContain("http://127.0.0.1:4999");
    void klarefi.close();
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to throw");
}
