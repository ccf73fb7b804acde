import { describe, expect, it } from "vitest";
import { callsSince } from "../../server";
import { clearFileBackendLocks, type CliProject, cliProject, expectOk, startKillableUp } from "../helpers/cli-project";
import { builtPackage } from "../helpers/pulumi";
import { useTestServer } from "../helpers/server";
import { waitFor } from "../helpers/wait";

// A bulk campaign spread over shards: the engine runs the shard resources one
// after another, so an interrupted or killed `up` keeps every finished shard
// and the next run does only what is left.

const klarefi = builtPackage();

const server = useTestServer();

const ROWS = 240;
const SHARDS = 8;

const program = (caseType: string) => `
const klarefi = require("@klarefi/pulumi");
const rows = [];
for (let i = 1; i <= ${ROWS}; i++) rows.push({ externalCaseId: "storm_" + i, externalApplicantId: "applicant_" + i });
const campaign = new klarefi.IntakeCampaign("storm", { caseTypeId: "${caseType}", rows, mode: "bulk", shards: ${SHARDS} });
exports.summary = campaign.summary;
`;

async function prepared(name: string, caseType: string): Promise<CliProject> {
  const project = cliProject(name, program(caseType));
  expectOk(await project.pulumi(["stack", "init"]));
  expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
  expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
  return project;
}

/** External case id → session id of every row the stack's shards record. */
async function recorded(project: CliProject): Promise<Record<string, string>> {
  const exported = await project.pulumi(["stack", "export"]);
  expectOk(exported);
  const json = exported.output.slice(0, exported.output.lastIndexOf("}") + 1);
  const resources = (JSON.parse(json) as { deployment: { resources?: { type: string; outputs?: { links?: string } }[] } }).deployment.resources ?? [];
  const rows: Record<string, string> = {};
  for (const r of resources.filter((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks")) {
    for (const [caseId, link] of Object.entries(klarefi.unpackLinks(r.outputs?.links ?? "klarefi-links/1\n"))) rows[caseId] = link.id;
  }
  return rows;
}

async function openByCase(caseType: string): Promise<Map<string, string[]>> {
  const byCase = new Map<string, string[]>();
  for (const s of await server.admin.sessions({ case_type_id: caseType, status: "open" })) {
    byCase.set(s.external_case_id, [...(byCase.get(s.external_case_id) ?? []), s.session_id]);
  }
  return byCase;
}

async function whenOpen(caseType: string, atLeast: number): Promise<number> {
  return waitFor(
    `${atLeast} of the campaign's sessions to be open`,
    async () => {
      const open = (await server.admin.sessions({ case_type_id: caseType, status: "open" })).length;
      return open >= atLeast ? open : undefined;
    },
    { tries: 2400, intervalMs: 25, timeoutMs: 90_000 },
  );
}

describe("a sharded bulk campaign whose up is stopped part-way", () => {
  it("stops after the shard in flight on SIGINT, records every finished link, and the next up creates only the rest", async () => {
    await server.admin.reset({ faults: true, clock: true });
    const project = await prepared("klarefi-interrupt", "home_claim");
    try {
      // Slow creates, so that the interrupt lands while the early shards run.
      await server.admin.setFaults({ latencyMs: 120 });
      const run = startKillableUp(project);
      await whenOpen("home_claim", 40);
      const code = await run.interrupt();
      await server.admin.setFaults({ latencyMs: 0 });
      expect(code).not.toBe(0);

      const open = await openByCase("home_claim");
      const kept = await recorded(project);
      expect(open.size).toBeLessThan(ROWS);
      // Every link that was made is in state, and nothing in state is missing on the server.
      expect(Object.keys(kept).sort()).toEqual([...open.keys()].sort());
      for (const [caseId, id] of Object.entries(kept)) expect(open.get(caseId)).toEqual([id]);

      const before = await server.admin.apiCalls();
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));
      const calls = callsSince(before, await server.admin.apiCalls());
      expect(calls).toEqual({ "POST /api/v1/sessions 201": ROWS - open.size });
      const finished = await openByCase("home_claim");
      expect(finished.size).toBe(ROWS);
      for (const ids of finished.values()) expect(ids).toHaveLength(1);
    } finally {
      await server.admin.setFaults({ latencyMs: 0 });
      await project.cleanup();
    }
  });

  it("ends with exactly one open link per row when a SIGKILLed up is run again, replaying only the shard that was in flight", async () => {
    await server.admin.reset({ faults: true, clock: true });
    const project = await prepared("klarefi-shard-kill", "travel_claim");
    try {
      await server.admin.setFaults({ latencyMs: 120 });
      const run = startKillableUp(project);
      await whenOpen("travel_claim", 40);
      await run.killHard();
      await server.admin.setFaults({ latencyMs: 0 });
      const openAfterKill = (await openByCase("travel_claim")).size;
      const kept = Object.keys(await recorded(project)).length;
      expect(openAfterKill).toBeLessThan(ROWS);
      expect(kept).toBeLessThanOrEqual(openAfterKill);

      expect(clearFileBackendLocks(project.backendDir)).toBe(true);
      const before = await server.admin.apiCalls();
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));
      const creates = callsSince(before, await server.admin.apiCalls())["POST /api/v1/sessions 201"] ?? 0;
      // The re-run asks again only for rows its state did not record: those of the shard in flight are replayed.
      expect(creates).toBe(ROWS - kept);
      expect(creates - (ROWS - openAfterKill)).toBeLessThanOrEqual(Math.ceil((ROWS / SHARDS) * 2));

      const open = await openByCase("travel_claim");
      expect(open.size).toBe(ROWS);
      for (const ids of open.values()) expect(ids).toHaveLength(1);
      expect(await server.admin.sessions({ case_type_id: "travel_claim" })).toHaveLength(ROWS);
    } finally {
      await server.admin.setFaults({ latencyMs: 0 });
      await project.cleanup();
    }
  });
});
