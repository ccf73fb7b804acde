/**
 * Throughput of session creates against the local Klarefi server with the
 * file store: starts the server in-process on a temporary database, drives
 * creates through an undici Pool of keep-alive connections and prints
 * creates per second.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/server-throughput.js [--count 5000] [--seconds 10] [--concurrency 16]
 *
 * Bounded by count and by time, whichever comes first; talks to 127.0.0.1 only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { DEFAULT_TEST_API_KEY, startKlarefiServer } from "../server";

export interface ThroughputResult {
  created: number;
  failed: number;
  seconds: number;
  perSecond: number;
}

/** Drives `count` creates (or `maxSeconds`, whichever ends first) at `concurrency` keep-alive connections. */
export async function measureServerThroughput(count: number, maxSeconds: number, concurrency: number): Promise<ThroughputResult> {
  const dir = mkdtempSync(join(tmpdir(), "klarefi-bench-"));
  const server = await startKlarefiServer({ port: 0, dbPath: join(dir, "bench.db"), onInternalError: () => {} });
  const pool = new Pool(server.url, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const headers = { authorization: `Bearer ${DEFAULT_TEST_API_KEY}`, "content-type": "application/json" };
  const deadline = performance.now() + maxSeconds * 1000;
  let next = 0;
  let created = 0;
  let failed = 0;

  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      const body = JSON.stringify({
        case_type_id: "motor_claim",
        idempotency_key: `bench_${i}`,
        external_case_id: `claim_${i}`,
        external_applicant_id: `applicant_${i}`,
        return_url: `https://claims.example.com/claim_${i}`,
        locale: "nl",
      });
      const res = await pool.request({ path: "/api/v1/sessions", method: "POST", headers, body });
      await res.body.dump();
      if (res.statusCode === 201) created++;
      else failed++;
    }
  };

  // Warm-up: one request so connection setup and statement preparation are not measured.
  const warm = await pool.request({
    path: "/healthz",
    method: "GET",
  });
  await warm.body.dump();

  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;
  return { created, failed, seconds, perSecond: created / seconds };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: "string", default: "5000" },
      seconds: { type: "string", default: "15" },
      concurrency: { type: "string", default: "16" },
    },
  });
  const count = Number(values.count);
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  if (![count, seconds, concurrency].every((n) => Number.isFinite(n) && n > 0)) {
    throw new RangeError("--count, --seconds and --concurrency must be positive numbers.");
  }
  const result = await measureServerThroughput(count, seconds, concurrency);
  process.stdout.write(
    `server-throughput: ${result.created} creates (${result.failed} failed) in ${result.seconds.toFixed(2)} s ` +
      `at concurrency ${concurrency}: ${Math.round(result.perSecond)} creates/s\n`,
  );
  if (result.failed > 0) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
