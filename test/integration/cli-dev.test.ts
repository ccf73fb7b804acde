import { describe, expect, it, onTestFinished } from "vitest";
import { Klarefi, KlarefiApiError } from "../../client";
import { DEFAULT_TEST_API_KEY } from "../../server";
import { runCli, startCli } from "../helpers/cli";

/**
 * `klarefi dev` through `main()`, stopped with the io's abort signal instead
 * of SIGINT. Every server started here is stopped when its test ends, passed
 * or failed.
 */

interface DevRun {
  url: Promise<string>;
  output: () => string;
  stop: () => Promise<number>;
}

function startDev(args: string[]): DevRun {
  const controller = new AbortController();
  const started = startCli(["dev", ...args], { signal: controller.signal });
  const exited = started.exited.then((run) => run.code);
  let finished = false;
  void exited.then(() => (finished = true));
  const stop = async () => {
    controller.abort();
    return exited;
  };
  onTestFinished(async () => {
    await stop();
  });
  const url = (async () => {
    // Bounded wait for the ready line: at most 200 checks, 50 ms apart.
    for (let i = 0; i < 200; i++) {
      const match = /Klarefi local server listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(started.stdout());
      if (match?.[1] !== undefined) return match[1];
      if (finished) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`klarefi dev did not report readiness; stdout: ${started.stdout()} stderr: ${started.stderr()}`);
  })();
  return {
    url,
    output: () => started.stdout() + started.stderr(),
    stop,
  };
}

describe("klarefi dev", () => {
  it("serves the API with the documented test key, prints the key hint, and stops cleanly", async () => {
    const dev = startDev(["--port", "0", "--db", ":memory:"]);
    const url = await dev.url;
    expect(dev.output()).toContain(`KLAREFI_API_KEY=${DEFAULT_TEST_API_KEY}`);
    const klarefi = new Klarefi({ apiKey: DEFAULT_TEST_API_KEY, baseUrl: url });
    try {
      const session = await klarefi.sessions.create({
        case_type_id: "motor_claim",
        idempotency_key: "dev_cmd_1",
        external_case_id: "claim_48392",
        external_applicant_id: "applicant_789",
      });
      expect(session.signed_url.startsWith(`${url}/i/`)).toBe(true);
    } finally {
      await klarefi.close();
    }
    expect(await dev.stop()).toBe(0);
    expect(dev.output()).toContain("Klarefi local server stopped.");
    // The port is closed after the stop.
    await expect(fetch(`${url}/api/v1/sessions/ses_x`)).rejects.toThrow();
  });

  it("takes its own keys, case types and faults from flags, and never prints the keys it was given", async () => {
    const key = "sk_test_dev_flag_secret_0123456789";
    const dev = startDev([
      "--port", "0", "--db", ":memory:", "--api-key", key, "--api-key", "sk_test_dev_other_0123456789",
      "--case-types", "pet_claim,boat_claim", "--seed", "1", "--rate-503", "1", "--retry-after", "0",
    ]);
    const url = await dev.url;
    const klarefi = new Klarefi({ apiKey: key, baseUrl: url, maxRetries: 0 });
    try {
      const error = await klarefi.sessions.retrieve("ses_x").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KlarefiApiError);
      expect((error as KlarefiApiError).status).toBe(503);
    } finally {
      await klarefi.close();
    }
    expect(await dev.stop()).toBe(0);
    expect(dev.output()).toContain("Accepting the 2 API keys given with --api-key");
    expect(dev.output()).not.toContain(key);
  });

  it("limits each API key to --rate-limit requests a second with bursts of --burst, and says so", async () => {
    const dev = startDev(["--port", "0", "--db", ":memory:", "--rate-limit", "1", "--burst", "2"]);
    const url = await dev.url;
    expect(dev.output()).toContain("Rate limit: 1 requests a second per API key, bursts of 2.");
    const statuses: number[] = [];
    let policy: string | null = null;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/api/v1/sessions/ses_missing`, { headers: { authorization: `Bearer ${DEFAULT_TEST_API_KEY}` } });
      statuses.push(res.status);
      policy = res.headers.get("ratelimit-policy");
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([404, 404, 429]);
    expect(policy).toBe('"default";q=1;w=1');
    expect(await dev.stop()).toBe(0);
  });

  it("knows the case types given with --case-types and no others", async () => {
    const dev = startDev(["--port", "0", "--db", ":memory:", "--case-types", "pet_claim"]);
    const url = await dev.url;
    const klarefi = new Klarefi({ apiKey: DEFAULT_TEST_API_KEY, baseUrl: url, maxRetries: 0 });
    const body = { idempotency_key: "k", external_case_id: "c", external_applicant_id: "a" };
    try {
      expect((await klarefi.sessions.create({ ...body, case_type_id: "pet_claim" })).case_type_id).toBe("pet_claim");
      await expect(klarefi.sessions.create({ ...body, idempotency_key: "k2", case_type_id: "motor_claim" })).rejects.toThrow(/422 Unknown case_type_id/);
    } finally {
      await klarefi.close();
    }
    expect(await dev.stop()).toBe(0);
  });

  it.each([
    [["--rate-429", "2"], "--rate-429"],
    [["--latency-ms", "soon"], "--latency-ms must be a number"],
    [["--port", "70000"], "--port must be a whole number"],
    [["--case-types", ","], "--case-types needs at least one case type"],
    [["--verbose"], "Unknown option '--verbose'"],
    [["extra"], 'unexpected argument "extra"'],
    [["--rate-limit", "0"], '--rate-limit must be from 1 to 100000, got "0"'],
    [["--rate-limit", "fast"], '--rate-limit must be a whole number, got "fast"'],
    [["--rate-limit", "10", "--burst", "2.5"], '--burst must be a whole number, got "2.5"'],
    [["--burst", "5"], "--burst needs --rate-limit"],
  ])("exits 2 on bad flags %j", async (args, text) => {
    const { code, stderr } = await runCli(["dev", ...args]);
    expect(code).toBe(2);
    expect(stderr).toContain(text);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
