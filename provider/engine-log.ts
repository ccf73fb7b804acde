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

/**
 * Reports `done/total` every `everyMs` while an operation runs, and once at
 * the end when it took longer than one period.
 */
export function progressReporter(sink: ProgressSink, label: string, total: number, everyMs = 3000) {
  let done = 0;
  const started = Date.now();
  const line = () => `${label}: ${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")} links`;
  const timer = total > 0 ? setInterval(() => sink.info(line()), everyMs) : undefined;
  timer?.unref();
  return {
    tick() {
      done++;
    },
    stop() {
      if (timer) clearInterval(timer);
      if (Date.now() - started >= everyMs) sink.info(line());
    },
  };
}
