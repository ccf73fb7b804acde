import { describe, expect, it } from "vitest";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { callsSince, useTestServer } from "../helpers/server";

// A large sharded campaign: what a step costs follows what changed. A
// no-change preview makes no call, and editing one row makes exactly that
// row's calls and updates only the shard that holds it.

const klarefi = builtPackage();
const server = useTestServer();

const ROWS = 3000;

describe("a 3,000-row bulk campaign in 4 shards", () => {
  it("previews with no API call and no change, and an edit of one row makes exactly its calls in its one shard", async () => {
    let moved = false;
    const program = async () => {
      const rows = Array.from({ length: ROWS }, (_, i) => ({
        externalCaseId: `storm_${i + 1}`,
        externalApplicantId: moved && i === 1233 ? "applicant_moved" : `applicant_${i + 1}`,
      }));
      const campaign = new klarefi.IntakeCampaign("storm", { caseTypeId: "hail_damage", rows, mode: "bulk", shards: 4, reissue: "allow" });
      return { summary: campaign.summary };
    };
    await withInlineStack({ projectName: "klarefi-large-edit", program, config: klarefiStackConfig(server) }, async ({ stack }) => {
      let before = await server.admin.apiCalls();
      await stack.up();
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "POST /api/v1/sessions 201": ROWS });

      before = await server.admin.apiCalls();
      const preview = await stack.preview();
      expect(preview.changeSummary).toEqual({ same: 6 }); // the stack, the campaign and its 4 shards
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

      const [old] = await server.admin.sessions({ external_case_id: "storm_1234", status: "open" });
      moved = true;
      before = await server.admin.apiCalls();
      const edit = await stack.up();
      expect(edit.summary.resourceChanges).toMatchObject({ update: 1, same: 5 });
      // The re-read that keeps an applicant who completed meanwhile, the new link, the old one revoked.
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({
        "GET /api/v1/sessions/{id} 200": 1,
        "POST /api/v1/sessions 201": 1,
        "POST /api/v1/sessions/{id}/revoke 200": 1,
      });
      const open = await server.admin.sessions({ external_case_id: "storm_1234", status: "open" });
      expect(open.map((s) => s.external_applicant_id)).toEqual(["applicant_moved"]);
      expect(open[0]?.session_id).not.toBe(old?.session_id);
      expect((await stack.outputs()).summary?.value).toMatchObject({ total: ROWS, open: ROWS });
    });
  });
});
