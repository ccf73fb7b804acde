import { parseFlags, noPositionals } from "../args";
import { ExitCode, UsageError, type CliIo } from "../io";
import {
  DEFAULT_ADMIN_KEY,
  DEFAULT_CASE_TYPES,
  DEFAULT_DB_PATH,
  DEFAULT_PORT,
  DEFAULT_TEST_API_KEY,
  FaultConfig,
  RateLimitConfig,
  startKlarefiServer,
  type KlarefiServerOptions,
} from "../../server";

/** `klarefi dev`: the local Klarefi server in the foreground, until SIGINT/SIGTERM. */

export const DEV_HELP = `Usage: klarefi dev [flags]

Run the local Klarefi server (the v1 API, the hosted intake page and /_admin endpoints) on 127.0.0.1
until Ctrl-C (SIGINT) or SIGTERM.

Flags:
  --port <n>               Port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --db <file>              SQLite database (default ${DEFAULT_DB_PATH}; ":memory:" keeps nothing)
  --api-key <key>          Accepted API key; repeat for several (default the test key ${DEFAULT_TEST_API_KEY})
  --admin-key <key>        Key of the /_admin endpoints (default ${DEFAULT_ADMIN_KEY})
  --case-types <a,b,c>     Known case types (default ${DEFAULT_CASE_TYPES.join(",")})
Rate limit (per API key, on /api/v1; PUT /_admin/rate-limit changes it while running):
  --rate-limit <r>         Requests a second per API key; over it, 429 rate_limited with Retry-After
  --burst <b>              Requests one key may send at once after idling (default: the --rate-limit value)
Fault injection (per /api/v1 request):
  --seed <n>               Seed of the fault generator, for repeatable runs
  --rate-429 <p>           Share of requests answered 429 (0 to 1)
  --rate-500 <p>           Share answered 500
  --rate-503 <p>           Share answered 503
  --latency-ms <ms>        Delay added to each request
  --commit-then-drop <p>   Share of creates/revokes committed, then dropped without an answer
  --retry-after <s>        Retry-After of injected 429/503 (default 1)
  -h, --help               Show this help

Then, in another shell:
  export KLAREFI_BASE_URL=http://127.0.0.1:${DEFAULT_PORT} KLAREFI_API_KEY=${DEFAULT_TEST_API_KEY}
  klarefi sessions create --case-type motor_claim --external-case-id claim_48392 --external-applicant-id applicant_789 --url-only
`;

const FAULT_FLAGS = [
  ["seed", "seed"],
  ["rate-429", "rate429"],
  ["rate-500", "rate500"],
  ["rate-503", "rate503"],
  ["latency-ms", "latencyMs"],
  ["commit-then-drop", "commitThenDrop"],
  ["retry-after", "retryAfterSeconds"],
] as const;

export async function devCommand(args: string[], io: CliIo): Promise<number> {
  const command = "dev";
  const { values, positionals } = parseFlags(
    command,
    args,
    {
      port: { type: "string" },
      db: { type: "string" },
      "api-key": { type: "string", multiple: true },
      "admin-key": { type: "string" },
      "case-types": { type: "string" },
      seed: { type: "string" },
      "rate-429": { type: "string" },
      "rate-500": { type: "string" },
      "rate-503": { type: "string" },
      "latency-ms": { type: "string" },
      "commit-then-drop": { type: "string" },
      "retry-after": { type: "string" },
      "rate-limit": { type: "string" },
      burst: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    { apiKeyFlag: true },
  );
  if (values.help) {
    io.stdout.write(DEV_HELP);
    return ExitCode.ok;
  }
  noPositionals(command, positionals);

  const options: KlarefiServerOptions = {};
  options.port = DEFAULT_PORT;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, got "${values.port}"`, command);
    options.port = port;
  }
  options.dbPath = values.db ?? DEFAULT_DB_PATH;
  const apiKeys = values["api-key"];
  if (apiKeys !== undefined) {
    if (apiKeys.some((k) => k.trim() === "" || /\s/.test(k))) throw new UsageError("--api-key must not be empty or contain spaces", command);
    options.apiKeys = apiKeys;
  }
  if (values["admin-key"] !== undefined) {
    if (values["admin-key"].trim() === "" || /\s/.test(values["admin-key"])) {
      throw new UsageError("--admin-key must not be empty or contain spaces", command);
    }
    options.adminKey = values["admin-key"];
  }
  if (values["case-types"] !== undefined) {
    const caseTypes = values["case-types"].split(",").map((t) => t.trim()).filter((t) => t !== "");
    if (caseTypes.length === 0) throw new UsageError("--case-types needs at least one case type, e.g. motor_claim,home_claim", command);
    options.caseTypes = caseTypes;
  }

  const faults: Record<string, number> = {};
  for (const [flag, field] of FAULT_FLAGS) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got "${raw}"`, command);
    faults[field] = n;
  }
  const checked = FaultConfig.safeParse(faults);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = issue?.path[0];
    const flag = FAULT_FLAGS.find(([, f]) => f === field)?.[0];
    throw new UsageError(`${flag === undefined ? "fault flags" : `--${flag}`}: ${issue?.message ?? "invalid value"}`, command);
  }
  if (Object.keys(checked.data).length > 0) options.faults = checked.data;

  const rateLimit = values["rate-limit"];
  if (rateLimit === undefined) {
    if (values.burst !== undefined) throw new UsageError("--burst needs --rate-limit, e.g. --rate-limit 100 --burst 20", command);
  } else {
    const limit = RateLimitConfig.safeParse({
      rps: wholeNumber(rateLimit),
      ...(values.burst === undefined ? {} : { burst: wholeNumber(values.burst) }),
    });
    if (!limit.success) {
      const issue = limit.error.issues[0];
      const flag = issue?.path[0] === "burst" ? "--burst" : "--rate-limit";
      const given = flag === "--burst" ? values.burst : rateLimit;
      throw new UsageError(`${flag} ${(issue?.message ?? "is invalid").replace(/^(rps|burst) /, "")}, got "${given ?? ""}"`, command);
    }
    options.rateLimit = limit.data;
  }

  let server;
  try {
    server = await startKlarefiServer(options);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "EADDRINUSE") {
      throw new Error(`port ${options.port} is already in use: stop the other server or pass --port <n> (0 picks a free one)`, { cause: error });
    }
    throw error;
  }

  const stopped = waitForStop(io);
  io.stdout.write(`Klarefi local server listening on ${server.url}\n`);
  io.stdout.write(`Database: ${server.dbPath}\n`);
  if (apiKeys === undefined) {
    io.stdout.write(`Test API key: export KLAREFI_API_KEY=${DEFAULT_TEST_API_KEY} KLAREFI_BASE_URL=${server.url}\n`);
  } else {
    io.stdout.write(`Accepting the ${apiKeys.length === 1 ? "API key" : `${apiKeys.length} API keys`} given with --api-key; export KLAREFI_BASE_URL=${server.url}\n`);
  }
  const limit = server.rateLimiter.limit;
  if (limit !== null) io.stdout.write(`Rate limit: ${limit.rps} requests a second per API key, bursts of ${limit.burst}.\n`);
  io.stdout.write("Press Ctrl-C to stop.\n");
  await stopped;
  await server.close();
  io.stdout.write("Klarefi local server stopped.\n");
  return ExitCode.ok;
}

/** A flag's text as a number for the schema to check; text that is not a plain number stays text (and is refused). */
function wholeNumber(raw: string): unknown {
  return /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw;
}

/** Resolves on the io's abort signal, or else on SIGINT/SIGTERM of the process. */
function waitForStop(io: CliIo): Promise<void> {
  const signal = io.signal;
  if (signal !== undefined) {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  }
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
