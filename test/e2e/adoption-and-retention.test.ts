import { describe, expect, it } from "vitest";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { useTestServer } from "../helpers/server";

const klarefi = builtPackage();

const server = useTestServer({ resetBeforeEach: false });

const config = () => klarefiStackConfig(server);

describe("adopting and retaining links", () => {
  it("adopts an open session created outside Pulumi by its id, then manages and revokes it", async () => {
    const created = await server.createSession({
      case_type_id: "motor_claim",
      idempotency_key: "made_by_hand_1",
      external_case_id: "claim_import",
      external_applicant_id: "applicant_import",
      locale: "nl",
    });
    const sessionId = ((await created.json()) as { session_id: string }).session_id;
    const program = async () => {
      const s = new klarefi.IntakeSession(
        "adopted",
        { caseTypeId: "motor_claim", externalCaseId: "claim_import", externalApplicantId: "applicant_import", locale: "nl", adoptSessionId: sessionId },
      );
      return { sessionId: s.sessionId, status: s.status };
    };
    await withInlineStack({ projectName: "klarefi-import", program, config: config() }, async ({ stack }) => {
      const up = await stack.up();
      expect(up.summary.resourceChanges?.create).toBe(2);
      expect(up.outputs.sessionId?.value).toBe(sessionId);
      expect(up.outputs.status?.value).toBe("open");
      expect((await stack.preview()).changeSummary).toEqual({ same: 2 });
      expect(await server.admin.sessions({ external_case_id: "claim_import" })).toHaveLength(1); // nothing new was created
      await stack.destroy();
      const after = await server.admin.sessions({ external_case_id: "claim_import" });
      expect(after.map((s) => [s.session_id, s.status])).toEqual([[sessionId, "revoked"]]);
    });
  });

  it("leaves a campaign's links open on destroy when the campaign retains them", async () => {
    const program = async () => {
      const campaign = new klarefi.IntakeCampaign("kept", {
        caseTypeId: "hail_damage",
        rows: [
          { externalCaseId: "keep_1", externalApplicantId: "a1" },
          { externalCaseId: "keep_2", externalApplicantId: "a2", locale: "fr" },
        ],
        defaults: { locale: "nl" },
        retainOnDelete: true,
      });
      return { links: campaign.links };
    };
    await withInlineStack({ projectName: "klarefi-retain", program, config: config() }, async ({ stack }) => {
      const up = await stack.up();
      expect(up.outputs.links?.secret).toBe(true);
      const links = up.outputs.links?.value as Record<string, { sessionId: string; signedUrl: string }>;
      expect(Object.keys(links).sort()).toEqual(["keep_1", "keep_2"]);
      await stack.destroy();
      const open = await server.admin.sessions({ case_type_id: "hail_damage", status: "open" });
      expect(open.map((s) => s.session_id).sort()).toEqual([links.keep_1?.sessionId, links.keep_2?.sessionId].sort());
      expect(open.find((s) => s.external_case_id === "keep_2")?.locale).toBe("fr");
      expect(open.find((s) => s.external_case_id === "keep_1")?.locale).toBe("nl");
    });
  });
});
