/**
 * @module
 * `npm run bench`: what a campaign costs through the real engine, against
 * baselines measured in the same run on the same machine and local server.
 *
 *   npm run bench                                   # 200 links, both modes, no floor: about a minute
 *   npm run bench -- --links N --mode per-link|bulk|both [--floor] [--backend file|s3]
 *                    [--shards S] [--rate-limit R] [--interrupt-at F]
 *                    [--skip-checkpoints] [--parallel P] [--op-timeout-s S] [--json FILE]
 *                    [--scaling-from FILE]               # a run at N/2: checks bulk up(N) ≤ 2.2 × up(N/2)
 *   npm run bench -- --server [--server-count 5000]  # the local server's create throughput
 *
 * For each mode (`IntakeCampaign` with `mode: "per-link"`, one `IntakeSession`
 * per row, or `mode: "bulk"`, one `IntakeCampaignLinks`): `up` of N links, a
 * no-change `preview`, `refresh`, an edit of one row that reissues its link,
 * `destroy`; the API calls of each from the server's counters; wall and CPU
 * seconds; the stored checkpoint's size per link. The bench fails loudly when
 * the no-change preview plans any change or `up` does not make exactly one
 * create per link: the figures would not be what they claim. Baselines: the
 * client (the same N creates and revokes straight through `Klarefi` at the
 * provider's concurrency cap) and, with `--floor`, N no-op dynamic resources
 * through the same engine, and the same with one secret output each (the
 * secret floor: what keeping an encrypted link in state costs the engine,
 * whatever the provider does). The floor grows with N² on the file and S3
 * backends, as the per-link mode does: about 75 s for `up` at 1,000 on two
 * cores, so most of an hour at 5,000; leave it out of bulk runs at that size.
 *
 * Everything runs on 127.0.0.1 and in temporary folders; every engine
 * operation has a time bound; the bench's own work is linear in N. Nothing
 * here asserts on timings: targets are printed as met or missed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import { DEFAULT_MAX_CONCURRENT_REQUESTS } from "../provider/intake-session";
import { startKlarefiServer } from "../server";
import { type BenchCampaign, benchRow, measureMode, type Mode, MODES } from "./campaign";
import { measureClientBaseline } from "./client-baseline";
import { measureFloor } from "./floor";
import { BenchReport, checkTargets, formatTable, round } from "./report";
import { measureServerThroughput } from "./server-throughput";
import { type BenchBackend, type EngineSettings, fileBackend, s3Backend } from "./stack";

const USAGE = `usage: npm run bench -- [--links N] [--mode per-link|bulk|both] [--floor] [--backend file|s3]
                       [--shards S] [--rate-limit R] [--interrupt-at F] [--skip-checkpoints] [--parallel P] [--op-timeout-s S] [--json FILE]
                       [--scaling-from FILE]
       npm run bench -- --server [--server-count 5000]`;

/** The command line, checked. */
export interface BenchOptions {
  links: number;
  modes: Mode[];
  floor: boolean;
  backend: "file" | "s3";
  skipCheckpoints: boolean;
  parallel: number | undefined;
  opTimeoutMs: number;
  json: string | undefined;
  /** The JSON file of an earlier run at half the links, for the scaling target. */
  scalingFrom: string | undefined;
  /** Bulk mode's `shards` (default 1). */
  shards: number;
  /** The local server's rate limit in requests/s per API key (burst the same), or undefined for none. */
  rateLimit: number | undefined;
  /** SIGINT to `pulumi` once this fraction of the rows is made, then a re-run. */
  interruptAt: number | undefined;
}

/** A command line the bench cannot run: exit code 2 with the usage. */
export class UsageError extends Error {}

function positiveInt(name: string, text: string): number {
  const n = Number(text.replaceAll("_", "").replaceAll(",", ""));
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of 1 or more; got "${text}".`);
  return n;
}

/** The options of a campaign run, from `parseArgs` values; a `UsageError` says what is wrong. */
export function parseOptions(values: Record<string, string | boolean | undefined>): BenchOptions {
  const links = positiveInt("links", String(values.links ?? "200"));
  const mode = String(values.mode ?? "both");
  if (mode !== "both" && !(MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode must be per-link, bulk or both; got "${mode}".`);
  const backend = String(values.backend ?? "file");
  if (backend !== "file" && backend !== "s3") throw new UsageError(`--backend must be file or s3; got "${backend}".`);
  return {
    links,
    modes: mode === "both" ? [...MODES] : [mode as Mode],
    floor: values.floor === true,
    backend,
    skipCheckpoints: values["skip-checkpoints"] === true,
    parallel: values.parallel === undefined ? undefined : positiveInt("parallel", String(values.parallel)),
    // Generous: the per-link mode and the floor grow with N² on the file backend.
    opTimeoutMs: 1000 * (values["op-timeout-s"] === undefined ? Math.max(600, links) : positiveInt("op-timeout-s", String(values["op-timeout-s"]))),
    json: typeof values.json === "string" ? values.json : undefined,
    scalingFrom: typeof values["scaling-from"] === "string" ? values["scaling-from"] : undefined,
    shards: values.shards === undefined ? 1 : positiveInt("shards", String(values.shards)),
    rateLimit: values["rate-limit"] === undefined ? undefined : positiveInt("rate-limit", String(values["rate-limit"])),
    interruptAt: values["interrupt-at"] === undefined ? undefined : fraction("interrupt-at", String(values["interrupt-at"])),
  };
}

function fraction(name: string, text: string): number {
  const f = Number(text);
  if (!Number.isFinite(f) || f <= 0 || f >= 1) throw new UsageError(`--${name} must be a fraction between 0 and 1, such as 0.5; got "${text}".`);
  return f;
}

/** 30 days from now, to the second: computed once, so that every run of every stack sees the same input. */
function fixedExpiry(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function runServerThroughput(count: number, out: (line: string) => void): Promise<void> {
  const throughput = await measureServerThroughput(count, 20, 16);
  out(`server: ${Math.round(throughput.perSecond)} creates/s (${throughput.created} creates, 16 keep-alive connections, file store)`);
}

async function runCampaignBench(options: BenchOptions, out: (line: string) => void): Promise<BenchReport> {
  const started = performance.now();
  const campaign: BenchCampaign = { links: options.links, caseTypeId: "hail_damage", locale: "nl", expiresAt: fixedExpiry(), shards: options.shards };
  const settings: EngineSettings = { skipCheckpoints: options.skipCheckpoints, parallel: options.parallel, opTimeoutMs: options.opTimeoutMs };
  const report: BenchReport = {
    links: options.links,
    client_create_s: 0,
    client_revoke_s: 0,
    client_read_s: 0,
    rate_limit: options.rateLimit ?? null,
    floor: null,
    secret_floor: null,
    modes: {},
    settings: {
      backend: options.backend,
      skip_checkpoints: options.skipCheckpoints,
      parallel: options.parallel ?? null,
      provider_concurrency_cap: DEFAULT_MAX_CONCURRENT_REQUESTS,
      shards: options.shards,
      rate_limit: options.rateLimit ?? null,
    },
    environment: {
      cpus: availableParallelism(),
      load_start: round(loadavg()[0] ?? 0),
      load_end: 0,
      node: process.version,
      pulumi: "",
      started_at: new Date().toISOString(),
      total_s: 0,
    },
  };
  const finish = () => {
    report.environment.load_end = round(loadavg()[0] ?? 0);
    report.environment.total_s = round((performance.now() - started) / 1000);
  };

  const dbDir = mkdtempSync(path.join(tmpdir(), "klarefi-bench-db-"));
  let backend: BenchBackend | undefined;
  const server = await startKlarefiServer({
    port: 0,
    dbPath: path.join(dbDir, "bench.db"),
    onInternalError: () => {},
    ...(options.rateLimit === undefined ? {} : { rateLimit: { rps: options.rateLimit, burst: options.rateLimit } }),
  });
  try {
    const apiKey = server.apiKeys[0] ?? "";
    report.environment.pulumi = await pulumiVersion();
    backend = options.backend === "s3" ? await s3Backend() : fileBackend();
    out(`${options.links} links, modes ${options.modes.join(", ")}${options.floor ? ", floor" : ""}; ${options.backend} backend` + (options.skipCheckpoints ? ", PULUMI_SKIP_CHECKPOINTS=true" : ""));

    if (options.rateLimit === undefined) {
      const baseline = await measureClientBaseline({
        baseUrl: server.url,
        apiKey,
        caseTypeId: campaign.caseTypeId,
        locale: campaign.locale,
        expiresAt: campaign.expiresAt,
        rows: Array.from({ length: options.links }, (_, i) => benchRow(i)),
      });
      report.client_create_s = round(baseline.createSeconds);
      report.client_revoke_s = round(baseline.revokeSeconds);
      report.client_read_s = round(baseline.readSeconds);
      out(
        `client    creates   ${baseline.createSeconds.toFixed(2)} s, reads ${baseline.readSeconds.toFixed(2)} s, revokes ${baseline.revokeSeconds.toFixed(2)} s (cap ${DEFAULT_MAX_CONCURRENT_REQUESTS})`,
      );
    } else {
      // Under a rate limit R the API's own speed is the limit: N/R for each pass.
      const floorSeconds = round(options.links / options.rateLimit);
      report.client_create_s = floorSeconds;
      report.client_revoke_s = floorSeconds;
      report.client_read_s = floorSeconds;
      out(`client    at ${options.rateLimit} requests/s: ${floorSeconds} s for each pass of ${options.links} calls (N/R, not measured)`);
    }
    if (options.floor) {
      report.floor = await measureFloor(options.links, backend, settings, out, "plain");
      report.secret_floor = await measureFloor(options.links, backend, settings, out, "secret");
    }
    for (const mode of options.modes) {
      report.modes[mode] = await measureMode({ mode, campaign, server, apiKey, backend, settings, log: out, interruptAt: options.interruptAt });
    }
    finish();
    return report;
  } catch (error) {
    finish();
    report.error = error instanceof Error ? error.message : String(error);
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { report });
  } finally {
    await backend?.close();
    await server.close();
    rmSync(dbDir, { recursive: true, force: true });
  }
}

/** The version of the Pulumi CLI the Automation API runs (the first `pulumi` on PATH). */
async function pulumiVersion(): Promise<string> {
  const command = await PulumiCommand.get({ skipVersionCheck: true });
  return command.version?.toString() ?? "unknown";
}

/** An earlier run's JSON file; a `UsageError` when it is missing or not one. */
function readReport(file: string): BenchReport {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UsageError(`--scaling-from ${file} cannot be read as JSON: ${(error as Error).message}`);
  }
  const parsed = BenchReport.safeParse(json);
  if (!parsed.success) throw new UsageError(`--scaling-from ${file} is not a bench JSON file: ${parsed.error.issues[0]?.message ?? "invalid"}.`);
  return parsed.data;
}

/** Writes the JSON file, checked against its schema first. */
function writeReport(file: string, report: BenchReport): void {
  writeFileSync(file, `${JSON.stringify(BenchReport.parse(report), null, 2)}\n`);
}

async function main(): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const { values } = parseArgs({
    options: {
      links: { type: "string" },
      mode: { type: "string" },
      floor: { type: "boolean" },
      backend: { type: "string" },
      "skip-checkpoints": { type: "boolean" },
      parallel: { type: "string" },
      "op-timeout-s": { type: "string" },
      json: { type: "string" },
      "scaling-from": { type: "string" },
      shards: { type: "string" },
      "rate-limit": { type: "string" },
      "interrupt-at": { type: "string" },
      server: { type: "boolean" },
      "server-count": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    out(USAGE);
    return;
  }
  if (values.server) {
    await runServerThroughput(positiveInt("server-count", values["server-count"] ?? "5000"), out);
    return;
  }
  const options = parseOptions(values);
  // Read before the run, so that a wrong path fails in a second rather than after an hour.
  const previous = options.scalingFrom === undefined ? undefined : readReport(options.scalingFrom);
  let report: BenchReport;
  try {
    report = await runCampaignBench(options, out);
  } catch (error) {
    const partial = (error as { report?: BenchReport }).report;
    if (partial && options.json) {
      writeReport(options.json, partial);
      process.stderr.write(`bench: the figures measured before the failure are in ${options.json}\n`);
    }
    throw error;
  }
  out("");
  out(formatTable(report));
  for (const check of checkTargets(report, previous)) out(`${check.met ? "met   " : "MISSED"} ${check.target}`);
  if (options.json) {
    writeReport(options.json, report);
    out(`JSON: ${options.json}`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
