/**
 * `npm run bench`: what a campaign costs, measured against baselines taken in
 * the same run on the same machine.
 *
 *  1. Server: session creates per second against the local server (file
 *     store, keep-alive connections). It must never be the bottleneck.
 *  2. Provisioning N links with `pulumi up` (real engine, Automation API),
 *     against the baseline of the same N creates made directly with the
 *     client at the provider's concurrency cap. The ratio is the engine's
 *     overhead per link.
 *  3. API calls per engine operation, from the server's counters: `up` makes
 *     one create per link, a no-op `preview` none, `refresh` one read per
 *     link, `destroy` one revoke per link.
 *  4. `destroy` against the baseline of N revokes made with the client.
 *
 *   npm run bench -- [--links 200] [--server-count 5000]
 *
 * Everything runs on 127.0.0.1 and is bounded by count; nothing here asserts.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { Klarefi } from "../client/klarefi";
import { DEFAULT_MAX_CONCURRENT_REQUESTS, IntakeSession } from "../provider/intake-session";
import { AdminCounters, startKlarefiServer, type RunningKlarefiServer } from "../server";
import { offlinePulumiEnv } from "../scripts/pulumi-env";
import { measureServerThroughput } from "./server-throughput";

const repoRoot = path.resolve(__dirname, "../..");

/** API calls per route since `since` (a counters snapshot), so one server serves every step. */
async function callsSince(server: RunningKlarefiServer, since: Map<string, number>): Promise<Map<string, number>> {
  const now = await counters(server);
  const delta = new Map<string, number>();
  for (const [route, n] of now) if (n - (since.get(route) ?? 0) > 0) delta.set(route, n - (since.get(route) ?? 0));
  return delta;
}

async function counters(server: RunningKlarefiServer): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/_admin/counters`, { headers: { authorization: `Bearer ${server.adminKey}` } });
  const body = AdminCounters.parse(await res.json());
  const byRoute = new Map<string, number>();
  for (const c of body.counters) byRoute.set(c.route, (byRoute.get(c.route) ?? 0) + c.count);
  return byRoute;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, (performance.now() - started) / 1000];
}

function calls(map: Map<string, number>): string {
  return [...map.entries()].map(([route, n]) => `${n} × ${route}`).join(", ") || "none";
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { links: { type: "string", default: "200" }, "server-count": { type: "string", default: "5000" } } });
  const links = Number(values.links);
  const serverCount = Number(values["server-count"]);
  if (!(links > 0 && serverCount > 0)) throw new RangeError("--links and --server-count must be positive numbers.");
  const out = (line: string) => process.stdout.write(`${line}\n`);

  const throughput = await measureServerThroughput(serverCount, 20, 16);
  out(`server: ${Math.round(throughput.perSecond)} creates/s (${throughput.created} creates, 16 keep-alive connections, file store)`);

  const dbDir = mkdtempSync(path.join(tmpdir(), "klarefi-bench-db-"));
  const server = await startKlarefiServer({ port: 0, dbPath: path.join(dbDir, "bench.db"), onInternalError: () => {} });
  const apiKey = server.apiKeys[0] ?? "";
  const scratchBase = path.join(repoRoot, ".klarefi", "tmp");
  mkdirSync(scratchBase, { recursive: true });
  const scratch = mkdtempSync(path.join(scratchBase, "bench-"));
  const backend = mkdtempSync(path.join(tmpdir(), "klarefi-bench-state-"));
  try {
    // Baseline: the same creates and revokes, straight through the client.
    const client = new Klarefi({ apiKey, baseUrl: server.url, maxConcurrency: DEFAULT_MAX_CONCURRENT_REQUESTS });
    const [created, baselineCreate] = await timed(() =>
      Promise.all(
        Array.from({ length: links }, (_, i) =>
          client.sessions.create({ case_type_id: "hail_damage", idempotency_key: `baseline_${i}`, external_case_id: `base_${i}`, external_applicant_id: `a_${i}` }),
        ),
      ),
    );
    const [, baselineRevoke] = await timed(() => Promise.all(created.map((s) => client.sessions.revoke(s.session_id))));
    await client.close();

    const program = async () => {
      for (let i = 0; i < links; i++) {
        new IntakeSession(`storm-${i}`, { caseTypeId: "hail_damage", externalCaseId: `storm_${i}`, externalApplicantId: `applicant_${i}` });
      }
    };
    const workDir = path.join(scratch, "work");
    mkdirSync(workDir);
    const stack = await LocalWorkspace.createStack(
      { stackName: "bench", projectName: "klarefi-bench", program },
      {
        workDir,
        secretsProvider: "passphrase",
        envVars: offlinePulumiEnv({ backendDir: backend, pulumiHome: path.join(scratch, "home"), passphrase: "klarefi-bench" }),
        projectSettings: { name: "klarefi-bench", runtime: "nodejs", backend: { url: `file://${backend}` } },
      },
    );
    await stack.setAllConfig({ "klarefi:apiKey": { value: apiKey, secret: true }, "klarefi:baseUrl": { value: server.url } });

    let mark = await counters(server);
    const [, upSeconds] = await timed(() => stack.up());
    const upCalls = await callsSince(server, mark);
    mark = await counters(server);
    const [, previewSeconds] = await timed(() => stack.preview());
    const previewCalls = await callsSince(server, mark);
    mark = await counters(server);
    const [, refreshSeconds] = await timed(() => stack.refresh());
    const refreshCalls = await callsSince(server, mark);
    mark = await counters(server);
    const [, destroySeconds] = await timed(() => stack.destroy());
    const destroyCalls = await callsSince(server, mark);
    await stack.workspace.removeStack("bench");

    out(`links: ${links}, provider concurrency cap ${DEFAULT_MAX_CONCURRENT_REQUESTS}`);
    out(`baseline client creates: ${baselineCreate.toFixed(2)} s (${(links / baselineCreate).toFixed(0)} links/s)`);
    out(`pulumi up:       ${upSeconds.toFixed(2)} s (${(links / upSeconds).toFixed(0)} links/s), ${(upSeconds / baselineCreate).toFixed(1)}× the baseline; API calls: ${calls(upCalls)}`);
    out(`pulumi preview:  ${previewSeconds.toFixed(2)} s (no changes); API calls: ${calls(previewCalls)}`);
    out(`pulumi refresh:  ${refreshSeconds.toFixed(2)} s; API calls: ${calls(refreshCalls)}`);
    out(`baseline client revokes: ${baselineRevoke.toFixed(2)} s`);
    out(`pulumi destroy:  ${destroySeconds.toFixed(2)} s, ${(destroySeconds / baselineRevoke).toFixed(1)}× the baseline; API calls: ${calls(destroyCalls)}`);
  } finally {
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(backend, { recursive: true, force: true });
    rmSync(dbDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
