/**
 * @module
 * Progress lines from inside the dynamic-provider process to the Pulumi
 * output. The SDK's `pulumi.log` is not connected there, but the host is
 * started with the engine's address as its first argument, and the engine's
 * `Log` RPC is all a progress line needs. Lines that cannot be delivered
 * are dropped: progress must never fail an operation.
 */
import { createRequire } from "node:module";

/** Where progress goes: the engine when reachable, nowhere otherwise. */
export interface ProgressSink {
  /** Sends a line; the promise settles once the engine has it (or it was dropped), never rejects. */
  info(message: string): void | Promise<void>;
}

interface EngineModules {
  grpc: { credentials: { createInsecure(): unknown } };
  engineGrpc: { EngineClient: new (address: string, credentials: unknown) => EngineClient };
  engine: { LogRequest: new () => LogRequest; LogSeverity: { INFO: number } };
}
interface EngineClient {
  log(request: LogRequest, callback: (error: unknown) => void): void;
  close(): void;
}
interface LogRequest {
  setSeverity(value: number): LogRequest;
  setMessage(value: string): LogRequest;
  setUrn(value: string): LogRequest;
  setEphemeral(value: boolean): LogRequest;
}

let engineSink: ProgressSink | undefined;

/**
 * The engine's log, when this process is the dynamic-provider host or the
 * `pulumi-resource-klarefi` plugin (its first argument is the engine's
 * `host:port`); a sink that drops lines otherwise
 * (unit tests, the CLI).
 */
export function engineProgress(argv: readonly string[] = process.argv): ProgressSink {
  if (engineSink) return engineSink;
  const address = argv[2];
  if (address === undefined || !/^[\w.-]+:\d+$/.test(address) || !/dynamic-provider|pulumi-resource-klarefi/.test(argv[1] ?? "")) return { info: () => {} };
  let client: EngineClient | undefined;
  let modules: EngineModules | undefined;
  try {
    // Resolve the gRPC pieces next to the SDK that runs this host.
    const fromSdk = createRequire(require.resolve("@pulumi/pulumi"));
    modules = {
      grpc: fromSdk("@grpc/grpc-js") as EngineModules["grpc"],
      engineGrpc: fromSdk("@pulumi/pulumi/proto/engine_grpc_pb") as EngineModules["engineGrpc"],
      engine: fromSdk("@pulumi/pulumi/proto/engine_pb") as EngineModules["engine"],
    };
    client = new modules.engineGrpc.EngineClient(address, modules.grpc.credentials.createInsecure());
  } catch {
    return { info: () => {} };
  }
  const { engine } = modules;
  engineSink = {
    info(message: string) {
      const request = new engine.LogRequest().setSeverity(engine.LogSeverity.INFO).setMessage(message).setUrn("").setEphemeral(false);
      return new Promise<void>((resolve) => {
        try {
          client?.log(request, () => resolve());
        } catch {
          // Progress is best effort.
          resolve();
        }
      });
    },
  };
  return engineSink;
}

/** How one row of an operation ended, as the progress counts it; `undefined` counts as done. */
export interface RowSettled {
  ok: boolean;
  /** The row was never started (the campaign stopped starting rows). */
  notAttempted?: boolean;
}

/** The counts and elapsed time one progress line shows. */
export interface ProgressCounts {
  label: string;
  total: number;
  /** Rows that succeeded. */
  done: number;
  failed: number;
  notAttempted: number;
  elapsedMs: number;
}

const count = (n: number) => n.toLocaleString("en-US");

/** `3m 12s`, `45s`, `1h 02m`: a duration to the second, for an ETA. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Rows per second: whole numbers from 10/s, one decimal below. */
function formatRate(perSecond: number): string {
  return perSecond >= 10 ? count(Math.round(perSecond)) : (Math.round(perSecond * 10) / 10).toString();
}

/**
 * One progress line: `hail-2027: 1,200/20,000 links (3 failed), 98/s, ETA 3m 12s`.
 * `done` counts only the rows that succeeded; failed and never started rows
 * are counted apart, so a run where nothing works never reads `2,000/2,000`.
 * The rate is of rows settled (succeeded or failed) since the start; the ETA
 * is the rows left at that rate, shown while rows are left and the rate is known.
 */
export function progressLine({ label, total, done, failed, notAttempted, elapsedMs }: ProgressCounts): string {
  const apart = [...(failed > 0 ? [`${count(failed)} failed`] : []), ...(notAttempted > 0 ? [`${count(notAttempted)} not attempted`] : [])];
  let line = `${label}: ${count(done)}/${count(total)} links${apart.length > 0 ? ` (${apart.join(", ")})` : ""}`;
  const settled = done + failed;
  if (settled > 0 && elapsedMs > 0) {
    const perSecond = (settled * 1000) / elapsedMs;
    line += `, ${formatRate(perSecond)}/s`;
    const left = total - settled - notAttempted;
    if (left > 0) line += `, ETA ${formatDuration((left / perSecond) * 1000)}`;
  }
  return line;
}

/**
 * Reports progress (see {@link progressLine}) every `everyMs` while an
 * operation runs, and once at the end when it took longer than one period.
 * `tick` takes how the row ended; without one the row counts as done.
 */
export function progressReporter(sink: ProgressSink, label: string, total: number, everyMs = 3000, now: () => number = Date.now) {
  let done = 0;
  let failed = 0;
  let notAttempted = 0;
  const started = now();
  const line = () => progressLine({ label, total, done, failed, notAttempted, elapsedMs: now() - started });
  const timer = total > 0 ? setInterval(() => sink.info(line()), everyMs) : undefined;
  timer?.unref();
  return {
    tick(settled?: RowSettled) {
      if (settled === undefined || settled.ok) done++;
      else if (settled.notAttempted) notAttempted++;
      else failed++;
    },
    stop() {
      if (timer) clearInterval(timer);
      if (now() - started >= everyMs) sink.info(line());
    },
  };
}
