/**
 * @module
 * What a bench run reports: the JSON file (`--json FILE`, one object for one
 * N) and the table on stdout, with every figure also as a ratio to the
 * baselines measured in the same run, and the targets of issue #10 checked.
 */
import { z } from "zod";

const seconds = z.number().nonnegative();
const calls = z.record(z.string(), z.number().int());
/** CPU seconds of one operation: the engine's processes (null off Linux) and the bench's own (program and server). */
const cpu = z.object({ engine: z.number().nullable(), bench: z.number() });
export type CpuResult = z.infer<typeof cpu>;

/** The floor: N no-op dynamic resources through the same engine. */
export const FloorResult = z.object({
  up_s: seconds,
  preview_s: seconds,
  destroy_s: seconds,
  /** The stored checkpoint after `up`, divided by N. */
  state_bytes_per_link: z.number().int(),
  /** CPU seconds per operation: steadier than wall time on a shared machine. */
  cpu_s: z.object({ up: cpu, preview: cpu, destroy: cpu }),
});
export type FloorResult = z.infer<typeof FloorResult>;

/** One campaign mode, `up` to `destroy`. */
export const ModeResult = z.object({
  up_s: seconds,
  preview_s: seconds,
  preview_api_calls: z.number().int(),
  refresh_s: seconds,
  destroy_s: seconds,
  /** `up` after changing one row's applicant (with `reissue: "allow"`): one reissue. */
  edit_one_row_s: seconds,
  edit_api_calls: z.number().int(),
  /** The stored checkpoint after `up`, divided by N. */
  state_bytes_per_link: z.number().int(),
  /** Calls of each step by `"<route> <status>"`. */
  api_calls: z.object({ up: calls, preview: calls, refresh: calls, edit: calls, destroy: calls }),
  /** CPU seconds per step: steadier than wall time on a shared machine. */
  cpu_s: z.object({ up: cpu, preview: cpu, refresh: cpu, edit: cpu, destroy: cpu }),
  /** What the engine reported the edit changed. */
  edit_changes: z.record(z.string(), z.number().int()),
  /** Resources in the checkpoint after `up`, by type: count and compact JSON bytes each. */
  state_by_type: z.record(z.string(), z.object({ count: z.number().int(), bytes_each: z.number().int() })),
  /** Peak of the summed RSS of the `pulumi` engine and its plugin processes during `up` (null off Linux). */
  peak_rss_mb: z.number().nullable().optional(),
  /** Every API request of the `up` step, and how many were answered 429. */
  requests_total: z.number().int().optional(),
  requests_429: z.number().int().optional(),
  /** With `--interrupt-at F`: SIGINT to `pulumi` once F of the rows were made, then a re-run. */
  interrupt: z
    .object({
      at_fraction: z.number(),
      /** From the SIGINT to the `up` returning. */
      stop_s: seconds,
      /** Links open on the server when the interrupted `up` returned. */
      created_before_stop: z.number().int(),
      /** API requests of the `up` that finished the campaign. */
      rerun_requests: z.number().int(),
    })
    .optional(),
});
export type ModeResult = z.infer<typeof ModeResult>;

/** The JSON file of one run. */
export const BenchReport = z.object({
  links: z.number().int().positive(),
  client_create_s: seconds,
  client_revoke_s: seconds,
  /** The client reading every session once: the baseline of `refresh`. */
  client_read_s: seconds.optional(),
  /** `--rate-limit R`: the local server's limit in requests/s per API key, or null for none. */
  rate_limit: z.number().nullable().optional(),
  floor: FloorResult.nullable(),
  /**
   * The same no-op resources with one secret output each, as long as a link
   * (with `--floor`): the least a resource that keeps its link encrypted in
   * state can cost. Absent from files written before it was measured.
   */
  secret_floor: FloorResult.nullable().optional(),
  modes: z.partialRecord(z.enum(["per-link", "bulk"]), ModeResult),
  settings: z.object({
    backend: z.enum(["file", "s3"]),
    skip_checkpoints: z.boolean(),
    /** `--parallel`, or null for the CLI's default. */
    parallel: z.number().int().nullable(),
    provider_concurrency_cap: z.number().int(),
    /** Bulk mode's `shards` (absent in files written before shards). */
    shards: z.number().int().optional(),
    rate_limit: z.number().nullable().optional(),
  }),
  environment: z.object({
    cpus: z.number().int(),
    /** 1-minute load average at the start and at the end: other work on the machine skews every figure. */
    load_start: z.number(),
    load_end: z.number(),
    node: z.string(),
    pulumi: z.string(),
    started_at: z.string(),
    total_s: seconds,
  }),
  /** Set when the run stopped early: the figures above are those measured before. */
  error: z.string().optional(),
});
export type BenchReport = z.infer<typeof BenchReport>;

/** Seconds to the millisecond, for the JSON file. */
export function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Rounds the CPU seconds of one operation for the JSON file. */
export function cpuResult(value: { engine: number | undefined; bench: number }): CpuResult {
  return { engine: value.engine === undefined ? null : round(value.engine), bench: round(value.bench) };
}

/** `12.34 s`, or `-`. */
function s(value: number | undefined): string {
  return value === undefined ? "-" : `${value.toFixed(2)} s`;
}

/** `1.07×`, or empty when there is nothing to compare with. */
function ratio(value: number | undefined, base: number | undefined, label: string): string {
  return value === undefined || base === undefined || base === 0 ? "" : ` (${(value / base).toFixed(2)}× ${label})`;
}

/** The human-readable table: one column per baseline and mode, ratios in brackets. */
export function formatTable(report: BenchReport): string {
  const { floor, modes } = report;
  const secretFloor = report.secret_floor ?? undefined;
  const client = { up: report.client_create_s, destroy: report.client_revoke_s };
  const columns: { name: string; cells: Record<string, string> }[] = [
    { name: "client", cells: { up: s(client.up), destroy: s(client.destroy) } },
  ];
  for (const [name, f] of [["floor", floor], ["secret floor", secretFloor]] as const) {
    if (!f) continue;
    columns.push({
      name,
      cells: {
        up: s(f.up_s) + (f === floor ? "" : ratio(f.up_s, floor?.up_s, "floor")),
        preview: s(f.preview_s),
        destroy: s(f.destroy_s) + (f === floor ? "" : ratio(f.destroy_s, floor?.destroy_s, "floor")),
        state: `${f.state_bytes_per_link} B`,
        upCpu: s(f.cpu_s.up.engine ?? undefined),
        destroyCpu: s(f.cpu_s.destroy.engine ?? undefined),
      },
    });
  }
  for (const [mode, m] of Object.entries(modes)) {
    if (!m) continue;
    columns.push({
      name: mode,
      cells: {
        up: s(m.up_s) + ratio(m.up_s, floor?.up_s, "floor") + ratio(m.up_s, secretFloor?.up_s, "secret floor") + ratio(m.up_s, client.up, "client"),
        preview: s(m.preview_s) + ratio(m.preview_s, floor?.preview_s, "floor") + `, ${m.preview_api_calls} calls`,
        refresh: s(m.refresh_s),
        edit: `${s(m.edit_one_row_s)}, ${m.edit_api_calls} calls`,
        destroy:
          s(m.destroy_s) +
          ratio(m.destroy_s, floor?.destroy_s, "floor") +
          ratio(m.destroy_s, secretFloor?.destroy_s, "secret floor") +
          ratio(m.destroy_s, client.destroy, "client"),
        state: `${m.state_bytes_per_link} B`,
        upCpu: s(m.cpu_s.up.engine ?? undefined) + ratio(m.cpu_s.up.engine ?? undefined, floor?.cpu_s.up.engine ?? undefined, "floor"),
        destroyCpu: s(m.cpu_s.destroy.engine ?? undefined) + ratio(m.cpu_s.destroy.engine ?? undefined, floor?.cpu_s.destroy.engine ?? undefined, "floor"),
      },
    });
  }
  const rows: [string, string][] = [
    ["up", "up (client: creates)"],
    ["preview", "no-change preview"],
    ["refresh", "refresh"],
    ["edit", "edit one row, up"],
    ["destroy", "destroy (client: revokes)"],
    ["state", "state per link"],
    ["upCpu", "up, engine CPU"],
    ["destroyCpu", "destroy, engine CPU"],
  ];
  const table = [["", ...columns.map((c) => c.name)], ...rows.map(([key, label]) => [label, ...columns.map((c) => c.cells[key] ?? "-")])];
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length))) ?? [];
  const settings = report.settings;
  const header =
    `${report.links} links · ${settings.backend} backend · checkpoints ${settings.skip_checkpoints ? "skipped (PULUMI_SKIP_CHECKPOINTS)" : "on"} · ` +
    `--parallel ${settings.parallel ?? "default"} · provider cap ${settings.provider_concurrency_cap} · ` +
    `load ${report.environment.load_start.toFixed(1)} → ${report.environment.load_end.toFixed(1)} on ${report.environment.cpus} CPUs`;
  return [header, ...table.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd())].join("\n");
}

/** One target of issue #10: what it asks, and whether this run met it. */
export interface TargetCheck {
  target: string;
  met: boolean;
}

/**
 * The targets this run's figures can be checked against. Scaling needs two
 * runs: with `previous` (a run at half the links, `--scaling-from FILE`), bulk
 * `up` at N must stay within 2.2 × `up` at N/2.
 */
export function checkTargets(report: BenchReport, previous?: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const { floor } = report;
  const perLink = report.modes["per-link"];
  if (perLink && floor) {
    const cpuRatio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? "" : `; engine CPU ${(a / b).toFixed(2)}×`);
    const secretFloor = report.secret_floor;
    const toSecretFloor = (value: number, base: number | undefined) => (base ? `; ${(value / base).toFixed(2)}× the secret floor` : "");
    checks.push({
      target:
        `per-link up ≤ 1.15 × floor (${(perLink.up_s / floor.up_s).toFixed(2)}×${cpuRatio(perLink.cpu_s.up.engine, floor.cpu_s.up.engine)}` +
        `${toSecretFloor(perLink.up_s, secretFloor?.up_s)})`,
      met: perLink.up_s <= 1.15 * floor.up_s,
    });
    checks.push({
      target:
        `per-link destroy ≤ 1.15 × floor (${(perLink.destroy_s / floor.destroy_s).toFixed(2)}×${cpuRatio(perLink.cpu_s.destroy.engine, floor.cpu_s.destroy.engine)}` +
        `${toSecretFloor(perLink.destroy_s, secretFloor?.destroy_s)})`,
      met: perLink.destroy_s <= 1.15 * floor.destroy_s,
    });
  }
  const bulk = report.modes.bulk;
  if (bulk) {
    const creates = bulk.api_calls.edit["POST /api/v1/sessions 201"] ?? 0;
    const revokes = bulk.api_calls.edit["POST /api/v1/sessions/{id}/revoke 200"] ?? 0;
    const limit = report.rate_limit ?? null;
    if (limit === null) {
      const upBound = 2 * report.client_create_s + 10;
      const destroyBound = 2 * report.client_revoke_s + 10;
      checks.push({ target: `bulk up ≤ 2 × client creates + 10 s (${bulk.up_s.toFixed(2)} ≤ ${upBound.toFixed(2)})`, met: bulk.up_s <= upBound });
      checks.push({ target: `bulk destroy ≤ 2 × client revokes + 10 s (${bulk.destroy_s.toFixed(2)} ≤ ${destroyBound.toFixed(2)})`, met: bulk.destroy_s <= destroyBound });
      if (report.client_read_s !== undefined) {
        const refreshBound = 1.5 * report.client_read_s + 10;
        checks.push({ target: `bulk refresh ≤ 1.5 × client reads + 10 s (${bulk.refresh_s.toFixed(2)} ≤ ${refreshBound.toFixed(2)})`, met: bulk.refresh_s <= refreshBound });
      }
    } else {
      const upBound = 1.1 * (report.links / limit) + 10;
      checks.push({ target: `bulk up at ${limit}/s ≤ 1.1 × N/R + 10 s (${bulk.up_s.toFixed(2)} ≤ ${upBound.toFixed(2)})`, met: bulk.up_s <= upBound });
      if (bulk.requests_total !== undefined && bulk.requests_429 !== undefined) {
        const share = bulk.requests_total === 0 ? 0 : bulk.requests_429 / bulk.requests_total;
        checks.push({ target: `bulk up: 429s ≤ 1% of requests (${bulk.requests_429} of ${bulk.requests_total}, ${(100 * share).toFixed(2)}%)`, met: share <= 0.01 });
      }
    }
    checks.push({ target: `bulk no-change preview ≤ 5 s with 0 API calls (${bulk.preview_s.toFixed(2)} s, ${bulk.preview_api_calls})`, met: bulk.preview_s <= 5 && bulk.preview_api_calls === 0 });
    checks.push({
      target: `bulk edit of one row: ≤ 3 calls (1 create, 1 revoke), ≤ 5 s (${creates} and ${revokes} of ${bulk.edit_api_calls}, ${bulk.edit_one_row_s.toFixed(2)} s)`,
      met: creates === 1 && revokes === 1 && bulk.edit_api_calls <= 3 && bulk.edit_one_row_s <= 5,
    });
    checks.push({ target: `bulk state ≤ 300 bytes per link (${bulk.state_bytes_per_link})`, met: bulk.state_bytes_per_link <= 300 });
    if (bulk.peak_rss_mb !== undefined && bulk.peak_rss_mb !== null) {
      checks.push({ target: `bulk peak RSS of pulumi and its plugins ≤ 1,024 MB (${bulk.peak_rss_mb})`, met: bulk.peak_rss_mb <= 1024 });
    }
    const cut = bulk.interrupt;
    if (cut) {
      const left = report.links - cut.created_before_stop;
      checks.push({
        target: `interrupt at ${cut.at_fraction}: stops ≤ 5 s before every link is made (${cut.stop_s.toFixed(2)} s, ${cut.created_before_stop} of ${report.links} made)`,
        met: cut.stop_s <= 5 && cut.created_before_stop < report.links,
      });
      checks.push({ target: `interrupt: the re-run does only what is left (${cut.rerun_requests} requests ≤ 1.01 × ${left})`, met: cut.rerun_requests <= 1.01 * left });
    }
    const before = previous?.modes.bulk;
    if (before && previous && previous.links * 2 === report.links) {
      checks.push({
        target: `bulk up at ${report.links} ≤ 2.2 × up at ${previous.links} (${bulk.up_s.toFixed(2)} ≤ ${(2.2 * before.up_s).toFixed(2)})`,
        met: bulk.up_s <= 2.2 * before.up_s,
      });
    }
  }
  return checks;
}
