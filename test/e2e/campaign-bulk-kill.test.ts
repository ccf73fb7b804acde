import { describe, expect, it } from "vitest";
import { clearFileBackendLocks, cliProject, expectOk, startKillableUp } from "../helpers/cli-project";
import { useTestServer } from "../helpers/server";
import { waitFor } from "../helpers/wait";

const server = useTestServer({ resetBeforeEach: false });

const ROWS = 120;

const PROGRAM = `
const klarefi = require("@klarefi/pulumi");
const rows = [];
for (let i = 1; i <= ${ROWS}; i++) rows.push({ externalCaseId: "storm_" + i, externalApplicantId: "applicant_" + i });
const campaign = new klarefi.IntakeCampaign("storm", { caseTypeId: "hail_damage", rows, mode: "bulk" });
exports.summary = campaign.summary;
`;

describe("a bulk campaign killed mid-provisioning", () => {
  it("ends with exactly one open link per row and no orphan when a SIGKILLed pulumi up is run again", async () => {
    await server.admin.reset({ faults: true, clock: true });
    const project = cliProject("klarefi-bulk-kill", PROGRAM);
    try {
      expectOk(await project.pulumi(["stack", "init"]));
      expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
      expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
      // Slow creates, so the kill lands while the one bulk create is half done.
      await server.admin.setFaults({ latencyMs: 40 });
      const run = startKillableUp(project);
      const partly = await waitFor(
        "some of the campaign's sessions to be committed",
        async () => {
          const open = await server.admin.sessions({ case_type_id: "hail_damage", status: "open" });
          return open.length >= 20 ? open.length : undefined;
        },
        { tries: 1200, intervalMs: 50, timeoutMs: 60_000 },
      );
      await run.killHard();
      await server.admin.setFaults({ latencyMs: 0 });
      const afterKill = (await server.admin.sessions({ case_type_id: "hail_damage", status: "open" })).length;
      expect(partly).toBeGreaterThanOrEqual(20);
      expect(afterKill).toBeLessThan(ROWS);

      expect(clearFileBackendLocks(project.backendDir)).toBe(true);
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));

      const open = await server.admin.sessions({ case_type_id: "hail_damage", status: "open" });
      const perCase = new Map<string, number>();
      for (const s of open) perCase.set(s.external_case_id, (perCase.get(s.external_case_id) ?? 0) + 1);
      expect(perCase.size).toBe(ROWS);
      expect([...perCase.values()].every((n) => n === 1)).toBe(true);
      const all = await server.admin.sessions({ case_type_id: "hail_damage" });
      expect(all).toHaveLength(ROWS); // nothing created twice, nothing orphaned
      const summary = await project.pulumi(["stack", "output", "summary", "--json"]);
      expectOk(summary);
      expect(JSON.parse(summary.output.trim().split("\n\n")[0] ?? "{}")).toMatchObject({ total: ROWS, open: ROWS });
    } finally {
      await server.admin.setFaults({ latencyMs: 0 });
      await project.cleanup();
    }
  });
});
