import { describe, expect, it } from "vitest";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { type ApiCalls, callsSince, useTestServer } from "../helpers/server";

// Applicants first: an applicant who completed since the last refresh keeps
// the session when a reissue is allowed. The stack's state still says "open"
// (no refresh ran), so only the provider's re-read of the live session, in
// the per-link diff and in the bulk apply, can tell; these tests fail when
// that re-read is removed.

const klarefi = builtPackage();
const server = useTestServer();

const CREATE = "POST /api/v1/sessions 201";
const REVOKE = "POST /api/v1/sessions/{id}/revoke 200";

type Links = Record<string, { sessionId: string; signedUrl: string }>;
type Summary = { total: number; open: number; completed: number; revoked: number; expired: number };

/** The creates and revokes among the calls (reads are the provider's business, not the applicant's). */
function writes(calls: ApiCalls): ApiCalls {
  return Object.fromEntries(Object.entries(calls).filter(([call]) => call.startsWith("POST ")));
}

describe.each(["per-link", "bulk"] as const)("a %s campaign whose applicant completed since the last refresh", (mode) => {
  it("keeps the completed session through a reissuing change with reissue allow and no refresh, and reissues only the open row", async () => {
    let locale = "nl";
    const program = async () => {
      const campaign = new klarefi.IntakeCampaign("completing", {
        caseTypeId: "hail_damage",
        rows: [
          { externalCaseId: "claim_done", externalApplicantId: "applicant_done" },
          { externalCaseId: "claim_open", externalApplicantId: "applicant_open" },
        ],
        mode,
        defaults: { locale },
        reissue: "allow",
      });
      return { links: campaign.links, summary: campaign.summary };
    };
    await withInlineStack({ projectName: "klarefi-completed", program, config: klarefiStackConfig(server) }, async ({ stack }) => {
      await stack.up();
      const before = (await stack.outputs()).links?.value as Links;
      const done = before.claim_done?.sessionId as string;
      const open = before.claim_open?.sessionId as string;
      expect(done).toMatch(/^ses_/);

      // The applicant submits out of band; the state still says open.
      await server.admin.completeSession(done);

      locale = "fr";
      const calls = await server.admin.apiCalls();
      const up = await stack.up();
      expect(up.summary.result).toBe("succeeded");
      // One new link, for the open row only; nothing revoked but that row's old link.
      expect(writes(callsSince(calls, await server.admin.apiCalls()))).toEqual({ [CREATE]: 1, [REVOKE]: 1 });

      const after = (await stack.outputs()).links?.value as Links;
      expect(after.claim_done?.sessionId).toBe(done);
      expect(after.claim_open?.sessionId).not.toBe(open);
      const statuses = Object.fromEntries((await server.admin.sessions()).map((s) => [s.session_id, s.status]));
      expect(statuses[done]).toBe("completed");
      expect(statuses[open]).toBe("revoked");
      expect(statuses[after.claim_open?.sessionId as string]).toBe("open");
      expect(Object.values(statuses).filter((s) => s === "open")).toHaveLength(1);
      // The bulk state records what the re-read found; a per-link session keeps "open" in state until the next refresh.
      if (mode === "bulk") expect((await stack.outputs()).summary?.value as Summary).toMatchObject({ total: 2, completed: 1, open: 1 });
    });
  });
});
