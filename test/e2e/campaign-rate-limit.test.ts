import { afterEach, describe, expect, it } from "vitest";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { useTestServer } from "../helpers/server";

// A rate-limited API (the local server's token bucket per API key, with the
// RateLimit fields) and bulk campaigns through the real engine: the client
// paces itself, so every row is made with hardly a 429 and none fails.

const klarefi = builtPackage();
const server = useTestServer();

afterEach(async () => {
  await server.admin.setRateLimit(null);
});

function campaign(name: string, caseTypeId: string, rows: number, shards: number) {
  return async () => {
    const c = new klarefi.IntakeCampaign(name, {
      caseTypeId,
      rows: Array.from({ length: rows }, (_, i) => ({ externalCaseId: `${name}_${i + 1}`, externalApplicantId: `applicant_${i + 1}` })),
      mode: "bulk",
      shards,
    });
    return { summary: c.summary };
  };
}

async function openCount(caseTypeId: string): Promise<number> {
  return (await server.admin.sessions({ case_type_id: caseTypeId, status: "open" })).length;
}

describe("a bulk campaign against a rate-limited API", () => {
  it("makes every link with no failed row and at most 1% of its requests answered 429", async () => {
    await server.admin.setRateLimit({ rps: 40, burst: 10 });
    await withInlineStack({ projectName: "klarefi-rate", program: campaign("paced", "hail_damage", 160, 2), config: klarefiStackConfig(server) }, async ({ stack }) => {
      const before = await server.admin.totals();
      const up = await stack.up();
      expect(up.summary.result).toBe("succeeded");
      const after = await server.admin.totals();
      const requests = after.requests_total - before.requests_total;
      expect(requests).toBeGreaterThanOrEqual(160);
      expect(after.rate_limited - before.rate_limited).toBeLessThanOrEqual(Math.floor(requests / 100));
      expect(await openCount("hail_damage")).toBe(160);
      expect((await stack.outputs()).summary?.value).toMatchObject({ total: 160, open: 160 });
    });
  });

  it("lets two stacks that share one API key both finish", async () => {
    await server.admin.setRateLimit({ rps: 40, burst: 10 });
    const run = (project: string, name: string, caseTypeId: string) =>
      withInlineStack({ projectName: project, program: campaign(name, caseTypeId, 80, 1), config: klarefiStackConfig(server) }, async ({ stack }) => {
        const up = await stack.up();
        expect(up.summary.result).toBe("succeeded");
        return openCount(caseTypeId);
      });
    const [home, travel] = await Promise.all([run("klarefi-rate-a", "home", "home_claim"), run("klarefi-rate-b", "travel", "travel_claim")]);
    expect([home, travel]).toEqual([80, 80]);
  });
});
