import { describe, expect, it } from "vitest";
import { callsSince, callsTo, totalCalls } from "../../bench/api-calls";
import { BenchReport, checkTargets, formatTable, type ModeResult } from "../../bench/report";
import { parseOptions, UsageError } from "../../bench/run";
import { assertNoChange, stateByType } from "../../bench/stack";

const cpu = { engine: 1, bench: 0.5 };

function mode(overrides: Partial<ModeResult> = {}): ModeResult {
  return {
    up_s: 10,
    preview_s: 1,
    preview_api_calls: 0,
    refresh_s: 2,
    destroy_s: 8,
    edit_one_row_s: 1,
    edit_api_calls: 2,
    state_bytes_per_link: 250,
    api_calls: {
      up: {},
      preview: {},
      refresh: {},
      edit: { "POST /api/v1/sessions 201": 1, "POST /api/v1/sessions/{id}/revoke 200": 1 },
      destroy: {},
    },
    cpu_s: { up: cpu, preview: cpu, refresh: cpu, edit: cpu, destroy: cpu },
    edit_changes: { same: 2, update: 1 },
    state_by_type: {},
    ...overrides,
  };
}

function report(modes: BenchReport["modes"], floor: BenchReport["floor"] = null): BenchReport {
  return {
    links: 1000,
    client_create_s: 1,
    client_revoke_s: 0.5,
    floor,
    modes,
    settings: { backend: "file", skip_checkpoints: false, parallel: null, provider_concurrency_cap: 8 },
    environment: { cpus: 2, load_start: 1, load_end: 1, node: "v24", pulumi: "3.276.0", started_at: "2027-01-01T00:00:00Z", total_s: 60 },
  };
}

const floor = { up_s: 10, preview_s: 1, destroy_s: 10, state_bytes_per_link: 2000, cpu_s: { up: cpu, preview: cpu, destroy: cpu } };

describe("the bench's checks", () => {
  it.each([
    [{ same: 5 }],
    [{ same: 5, create: 0 }],
    [{}],
  ])("accepts a preview that plans no change: %j", (changes) => {
    expect(() => assertNoChange("preview", changes)).not.toThrow();
  });

  it.each([
    [{ same: 4, update: 1 }, /1 update/],
    [{ same: 3, create: 1, delete: 1 }, /1 create, 1 delete/],
    [{ replace: 2 }, /2 replace/],
  ])("refuses a 'no-change' preview that plans %j", (changes, message) => {
    expect(() => assertNoChange("per-link: no-change preview", changes)).toThrow(message);
  });

  it("counts only the calls made between two readings, by route", () => {
    const before = { "POST /api/v1/sessions 201": 3, "GET /api/v1/sessions/{id} 200": 1 };
    const after = { "POST /api/v1/sessions 201": 5, "GET /api/v1/sessions/{id} 200": 1, "POST /api/v1/sessions 422": 1 };
    const calls = callsSince(before, after);
    expect(calls).toEqual({ "POST /api/v1/sessions 201": 2, "POST /api/v1/sessions 422": 1 });
    expect(callsTo(calls, "POST /api/v1/sessions")).toBe(3);
    expect(totalCalls(calls)).toBe(3);
    expect(callsSince(after, after)).toEqual({});
  });

  it("sizes the resources of a checkpoint by type", () => {
    const text = JSON.stringify({ checkpoint: { latest: { resources: [{ type: "a", x: "1" }, { type: "a", x: "12" }, { type: "b" }] } } });
    expect(stateByType(text)).toEqual({ a: { count: 2, bytes_each: 21 }, b: { count: 1, bytes_each: 12 } });
  });
});

describe("the targets of a bench run", () => {
  it.each([
    [11.5, 11.5, true],
    [11.6, 11.5, false],
    [11.5, 11.6, false],
  ])("holds per-link up %s s and destroy %s s against a 10 s floor to 1.15×: %s", (up, destroy, met) => {
    const checks = checkTargets(report({ "per-link": mode({ up_s: up, destroy_s: destroy }) }, floor));
    expect(checks.every((c) => c.met)).toBe(met);
    expect(checks).toHaveLength(2);
  });

  it("checks no per-link ratio without a floor", () => {
    expect(checkTargets(report({ "per-link": mode() }))).toEqual([]);
  });

  it.each([
    ["an edit that is 1 create and 1 revoke", {}, true],
    ["an edit with 2 creates", { api_calls: { ...mode().api_calls, edit: { "POST /api/v1/sessions 201": 2, "POST /api/v1/sessions/{id}/revoke 200": 1 } } }, false],
    ["a preview with an API call", { preview_api_calls: 1 }, false],
    ["an up slower than 2 × the client + 10 s", { up_s: 12.01 }, false],
    ["a destroy slower than 2 × the client + 10 s", { destroy_s: 11.01 }, false],
    ["state of 301 bytes per link", { state_bytes_per_link: 301 }, false],
    ["a peak RSS of 1,025 MB", { peak_rss_mb: 1025 }, false],
    ["an edit of 4 calls", { edit_api_calls: 4 }, false],
  ])("bulk: %s meets every target: %s", (_what, overrides: Partial<ModeResult>, met) => {
    const base = mode({ up_s: 7, destroy_s: 6 });
    const checks = checkTargets(report({ bulk: { ...base, ...overrides } }));
    expect(checks.every((c) => c.met)).toBe(met);
  });

  it.each([
    [230, 30, true],
    [230.5, 30, false],
    [230, 31, false],
  ])("at --rate-limit 100, holds 20,000 links in up %s s (≤ 1.1 × 200 s + 10 s) with %s of 3,000 requests answered 429 (≤ 1%): %s", (up, rejected, met) => {
    const limited = { ...report({ bulk: mode({ up_s: up, requests_total: 3000, requests_429: rejected }) }), links: 20_000, rate_limit: 100 };
    const checks = checkTargets(limited);
    expect(checks.filter((c) => /at 100\/s|429s/.test(c.target)).every((c) => c.met)).toBe(met);
  });

  it.each([
    [4.9, 9000, 11_100, true],
    [5.1, 9000, 11_000, false],
    [4.9, 9000, 11_111, false],
    [4.9, 20_000, 0, false],
  ])("holds an interrupt that stopped in %s s with %s of 20,000 made and a re-run of %s requests: %s", (stop, made, rerun, met) => {
    const cut = { at_fraction: 0.5, stop_s: stop, created_before_stop: made, rerun_requests: rerun };
    const checks = checkTargets({ ...report({ bulk: mode({ interrupt: cut }) }), links: 20_000 }).filter((c) => c.target.startsWith("interrupt"));
    expect(checks).toHaveLength(2);
    expect(checks.every((c) => c.met)).toBe(met);
  });

  it.each([
    [5000, 22, true],
    [5000, 22.01, false],
    [4000, 100, undefined],
  ])("checks bulk up at 10,000 against 2.2 × up at %s links taking 10 s (up %s s): %s", (previousLinks, up, met) => {
    const previous = { ...report({ bulk: mode({ up_s: 10 }) }), links: previousLinks };
    const current = { ...report({ bulk: mode({ up_s: up }) }), links: 10_000 };
    const scaling = checkTargets(current, previous).find((c) => c.target.startsWith("bulk up at 10000"));
    expect(scaling?.met).toBe(met);
  });

  it("names the ratio to the secret floor in the per-link targets, which stay measured against the floor", () => {
    const secretFloor = { ...floor, up_s: 12.5, destroy_s: 11 };
    const checks = checkTargets({ ...report({ "per-link": mode({ up_s: 13, destroy_s: 11 }) }, floor), secret_floor: secretFloor });
    expect(checks.map((c) => c.met)).toEqual([false, true]);
    expect(checks[0]?.target).toContain("(1.30×; engine CPU 1.00×; 1.04× the secret floor)");
    expect(checks[1]?.target).toContain("1.00× the secret floor");
  });

  it("reads a report written before the secret floor was measured", () => {
    const older: Record<string, unknown> = { ...report({ "per-link": mode() }, floor) };
    delete older.secret_floor;
    expect(BenchReport.parse(older).secret_floor).toBeUndefined();
    expect(checkTargets(BenchReport.parse(older))[0]?.target).not.toContain("secret floor");
  });

  it("prints the secret floor's column and the ratios to it", () => {
    const table = formatTable({ ...report({ "per-link": mode({ up_s: 12 }) }, floor), secret_floor: { ...floor, up_s: 11 } });
    expect(table).toContain("secret floor");
    expect(table).toContain("11.00 s (1.10× floor)");
    expect(table).toContain("12.00 s (1.20× floor) (1.09× secret floor) (12.00× client)");
  });

  it("prints a table with the ratios to the floor and the client", () => {
    const table = formatTable(report({ "per-link": mode({ up_s: 12 }) }, floor));
    expect(table).toContain("12.00 s (1.20× floor) (12.00× client)");
    expect(table).toContain("1000 links · file backend · checkpoints on");
  });
});

describe("the bench's command line", () => {
  it("runs 200 links in both modes without a floor when given nothing", () => {
    expect(parseOptions({})).toMatchObject({ links: 200, modes: ["per-link", "bulk"], floor: false, backend: "file", skipCheckpoints: false, json: undefined });
  });

  it("reads every option", () => {
    const options = parseOptions({ links: "5,000", mode: "bulk", floor: true, backend: "s3", "skip-checkpoints": true, parallel: "16", json: "out.json" });
    expect(options).toMatchObject({ links: 5000, modes: ["bulk"], floor: true, backend: "s3", skipCheckpoints: true, parallel: 16, json: "out.json" });
    expect(options.opTimeoutMs).toBe(5_000_000);
  });

  it.each([
    [{ links: "0" }, /--links must be a whole number of 1 or more; got "0"/],
    [{ links: "ten" }, /--links/],
    [{ mode: "sessions" }, /--mode must be per-link, bulk or both; got "sessions"/],
    [{ backend: "gcs" }, /--backend must be file or s3; got "gcs"/],
    [{ parallel: "1.5" }, /--parallel/],
  ])("refuses %j", (values, message) => {
    expect(() => parseOptions(values)).toThrow(UsageError);
    expect(() => parseOptions(values)).toThrow(message);
  });
});
