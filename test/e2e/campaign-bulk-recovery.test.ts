import type { Stack } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { callsSince, useTestServer } from "../helpers/server";

const klarefi = builtPackage();

const server = useTestServer({ resetBeforeEach: false });

interface Settings {
  caseType: string;
  rows: number;
  mode: "per-link" | "bulk";
  retainOnDelete?: boolean;
}

function program(settings: () => Settings) {
  return async () => {
    const s = settings();
    const campaign = new klarefi.IntakeCampaign("storm", {
      caseTypeId: s.caseType,
      rows: Array.from({ length: s.rows }, (_, i) => ({ externalCaseId: `storm_${i + 1}`, externalApplicantId: `applicant_${i + 1}` })),
      mode: s.mode,
      retainOnDelete: s.retainOnDelete,
    });
    return { links: campaign.links };
  };
}

type Links = Record<string, { sessionId: string; signedUrl: string }>;

async function links(stack: Stack): Promise<Links> {
  return (await stack.outputs()).links?.value as Links;
}

/** Open sessions of a case type on the server, by external case id; fails on two open sessions for one case. */
async function openByCase(caseType: string): Promise<Record<string, string>> {
  const open = await server.admin.sessions({ case_type_id: caseType, status: "open" });
  const byCase: Record<string, string> = {};
  for (const s of open) {
    expect(byCase[s.external_case_id], `two open sessions for ${s.external_case_id}`).toBeUndefined();
    byCase[s.external_case_id] = s.session_id;
  }
  return byCase;
}

/** Rows the bulk resource holds in state. */
async function bulkRows(stack: Stack): Promise<Record<string, { id: string }>> {
  const deployment = (await stack.exportStack()).deployment as { resources: { type: string; outputs?: Record<string, unknown> }[] };
  const bulk = deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks");
  return klarefi.unpackLinks(String(bulk?.outputs?.links ?? "klarefi-links/1"));
}

describe("bulk campaign recovery and migration", () => {
  it("records the rows that succeeded when some fail, names the failed rows, and finishes only what is left on the next up", async () => {
    await server.admin.reset({ faults: true, clock: true });
    const settings: Settings = { caseType: "home_claim", rows: 24, mode: "bulk" };
    await withInlineStack(
      { projectName: "klarefi-recovery", program: program(() => settings), config: { ...klarefiStackConfig(server), "klarefi:maxRetries": { value: "0" } } },
      async ({ stack }) => {
        try {
          await server.admin.setFaults({ seed: 11, rate500: 0.4 });
          let failure: unknown;
          try {
            await stack.up();
          } catch (error) {
            failure = error;
          }
          expect(String(failure)).toMatch(/Provisioning campaign storm: \d+ of 24 links failed; the others are recorded in the stack/);
          // Rows that failed for the same reason share one line: "- 9 rows (storm_1, storm_12, storm_14, and 6 more): … 500 …".
          expect(String(failure)).toMatch(/- (storm_\d+|\d+ rows \(storm_\d+[^)]*\)): .*500/);
          await server.admin.setFaults({ rate500: 0 });

          const recorded = await bulkRows(stack);
          const open = await openByCase("home_claim");
          const recordedCount = Object.keys(recorded).length;
          expect(recordedCount).toBeGreaterThan(0);
          expect(recordedCount).toBeLessThan(24);
          expect(Object.fromEntries(Object.entries(recorded).map(([c, r]) => [c, r.id]))).toEqual(open);

          const before = await server.admin.apiCalls();
          const again = await stack.up();
          expect(again.summary.result).toBe("succeeded");
          expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "POST /api/v1/sessions 201": 24 - recordedCount });
          const finished = await openByCase("home_claim");
          expect(Object.keys(finished)).toHaveLength(24);
          for (const [caseId, id] of Object.entries(open)) expect(finished[caseId]).toBe(id);
          expect(Object.keys(await links(stack))).toHaveLength(24);
        } finally {
          await server.admin.setFaults({ rate500: 0 });
        }
      },
    );
  });

  it("moves a live campaign from per-link to bulk and back with every applicant keeping the same open link", async () => {
    await server.admin.reset({ faults: true, clock: true });
    let settings: Settings = { caseType: "travel_claim", rows: 8, mode: "per-link" };
    await withInlineStack(
      { projectName: "klarefi-migration", program: program(() => settings), config: klarefiStackConfig(server) },
      async ({ stack }) => {
        await stack.up();
        const mailed = await links(stack);
        const opened = await openByCase("travel_claim");
        expect(Object.keys(opened)).toHaveLength(8);

        const unchanged = async () => {
          expect(await openByCase("travel_claim")).toEqual(opened);
          const current = await links(stack);
          for (const [caseId, link] of Object.entries(mailed)) expect(current[caseId]).toEqual(link);
          const revoked = await server.admin.sessions({ case_type_id: "travel_claim", status: "revoked" });
          expect(revoked).toEqual([]);
        };

        // Step 1: keep the links when their resources leave the stack (state only, no API call).
        settings = { ...settings, retainOnDelete: true };
        let before = await server.admin.apiCalls();
        await stack.up();
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

        // Step 2: switch to bulk: the bulk resource derives the same keys and takes the same sessions over.
        settings = { ...settings, mode: "bulk" };
        before = await server.admin.apiCalls();
        const toBulk = await stack.up();
        expect(toBulk.summary.resourceChanges).toMatchObject({ create: 1, delete: 8 });
        const calls = callsSince(before, await server.admin.apiCalls());
        expect(calls["POST /api/v1/sessions/{id}/revoke 200"]).toBeUndefined();
        await unchanged();
        expect(Object.fromEntries(Object.entries(await bulkRows(stack)).map(([c, r]) => [c, r.id]))).toEqual(opened);

        // And back: per-link resources take the same sessions over, the bulk resource leaves without revoking.
        settings = { ...settings, mode: "per-link" };
        before = await server.admin.apiCalls();
        const toPerLink = await stack.up();
        expect(toPerLink.summary.resourceChanges).toMatchObject({ create: 8, delete: 1 });
        expect(callsSince(before, await server.admin.apiCalls())["POST /api/v1/sessions/{id}/revoke 200"]).toBeUndefined();
        await unchanged();

        // Once migrated, links are revoked on destroy again.
        settings = { ...settings, retainOnDelete: false };
        await stack.up();
        await stack.destroy();
        expect(await openByCase("travel_claim")).toEqual({});
      },
    );
  });
});
