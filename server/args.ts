import { parseArgs } from "node:util";
import { FaultConfig } from "./faults";
import type { KlarefiServerOptions } from "./server";

/** Usage text of the flags `parseServerArgs` reads. */
export const SERVER_USAGE = `Options of the local Klarefi server:
  --port <n>                    port to listen on (default 4010; 0 picks a free one)
  --host <addr>                 interface (default 127.0.0.1)
  --db <path>                   SQLite file (default .klarefi/dev.db; ":memory:" keeps nothing)
  --api-key <key>               accepted API key; repeat for several (default the documented test key)
  --admin-key <key>             key of the /_admin endpoints
  --case-type <id>              known case type; repeat or comma-separate (default motor_claim,home_claim,travel_claim,hail_damage)
  --public-base-url <url>       base of signed URLs (default the listening URL)
  --fault-seed <n>              seed of the fault generator
  --fault-rate-429 <p>          share of /api/v1 requests answered 429
  --fault-rate-500 <p>          share answered 500
  --fault-rate-503 <p>          share answered 503
  --fault-latency-ms <ms>       delay added to each /api/v1 request
  --fault-commit-then-drop <p>  share of creates/revokes committed, then dropped without an answer
  --fault-retry-after <s>       Retry-After of injected 429/503 (default 1)`;

/**
 * Reads server options from command-line flags (`SERVER_USAGE`), for the
 * `klarefi` CLI and `node dist/server/main.js`. Throws a RangeError naming
 * the flag when a value is wrong.
 */
export function parseServerArgs(argv: readonly string[]): KlarefiServerOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      db: { type: "string" },
      "api-key": { type: "string", multiple: true },
      "admin-key": { type: "string" },
      "case-type": { type: "string", multiple: true },
      "public-base-url": { type: "string" },
      "fault-seed": { type: "string" },
      "fault-rate-429": { type: "string" },
      "fault-rate-500": { type: "string" },
      "fault-rate-503": { type: "string" },
      "fault-latency-ms": { type: "string" },
      "fault-commit-then-drop": { type: "string" },
      "fault-retry-after": { type: "string" },
    },
  });
  const num = (flag: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new RangeError(`--${flag} must be a number; got "${value}".`);
    return n;
  };
  const options: KlarefiServerOptions = {};
  const port = num("port", values.port);
  if (port !== undefined) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--port must be 0 to 65535; got ${port}.`);
    options.port = port;
  }
  if (values.host !== undefined) options.host = values.host;
  if (values.db !== undefined) options.dbPath = values.db;
  if (values["api-key"] !== undefined) options.apiKeys = values["api-key"];
  if (values["admin-key"] !== undefined) options.adminKey = values["admin-key"];
  if (values["case-type"] !== undefined) {
    options.caseTypes = values["case-type"].flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
  }
  if (values["public-base-url"] !== undefined) options.publicBaseUrl = values["public-base-url"];

  const faults: Record<string, number> = {};
  const faultFlags: Array<[string, keyof FaultConfig]> = [
    ["fault-seed", "seed"],
    ["fault-rate-429", "rate429"],
    ["fault-rate-500", "rate500"],
    ["fault-rate-503", "rate503"],
    ["fault-latency-ms", "latencyMs"],
    ["fault-commit-then-drop", "commitThenDrop"],
    ["fault-retry-after", "retryAfterSeconds"],
  ];
  for (const [flag, field] of faultFlags) {
    const n = num(flag, values[flag as keyof typeof values] as string | undefined);
    if (n !== undefined) faults[field] = n;
  }
  if (Object.keys(faults).length > 0) {
    const parsed = FaultConfig.safeParse(faults);
    if (!parsed.success) throw new RangeError(`Fault flags are not valid: ${parsed.error.issues[0]?.message ?? "invalid"}.`);
    options.faults = parsed.data;
  }
  return options;
}
