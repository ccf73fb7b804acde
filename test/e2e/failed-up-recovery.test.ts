import type { Stack } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import { Klarefi } from "../../client";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { useTestServer } from "../helpers/server";

// A create or update that made links and then failed leaves them in state as
// created-with-error. The dynamic-provider host stores that state without the
// serialized provider unless the provider puts it back; then `refresh` and
// `destroy` cannot load the provider and the links stay open.

const klarefi = builtPackage();

const server = useTestServer();

async function openOf(caseType: string): Promise<number> {
  return (await server.admin.sessions({ case_type_id: caseType, status: "open" })).length;
}

async function failedUp(stack: Stack): Promise<string> {
  const failure = await stack.up().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure, "the up was meant to fail").toBeDefined();
  return String(failure);
}

describe("after a failed up, refresh and destroy still work", () => {
  it("refreshes and destroys a bulk campaign whose first up failed part-way, revoking every link that was made", async () => {
    await server.admin.reset({ faults: true, clock: true });
    const program = async () => {
      const campaign = new klarefi.IntakeCampaign("hail", {
        caseTypeId: "hail_damage",
        rows: Array.from({ length: 30 }, (_, i) => ({ externalCaseId: `hail_${i + 1}`, externalApplicantId: `applicant_${i + 1}` })),
        mode: "bulk",
      });
      return { summary: campaign.summary };
    };
    await withInlineStack(
      { projectName: "klarefi-failed-bulk", program, config: { ...klarefiStackConfig(server), "klarefi:maxRetries": { value: "0" } } },
      async ({ stack }) => {
        try {
          await server.admin.setFaults({ seed: 7, rate500: 0.5 });
          expect(await failedUp(stack)).toMatch(/Provisioning campaign hail: \d+ of 30 links failed/);
        } finally {
          await server.admin.setFaults({ rate500: 0 });
        }
        const made = await openOf("hail_damage");
        expect(made).toBeGreaterThan(0);
        expect(made).toBeLessThan(30);

        const refreshed = await stack.refresh();
        expect(refreshed.summary.result).toBe("succeeded");
        const destroyed = await stack.destroy();
        expect(destroyed.summary.result).toBe("succeeded");
        expect(await openOf("hail_damage")).toBe(0);
      },
    );
  });

  it("refreshes and destroys a session that was created but did not match the request, revoking it", async () => {
    await server.admin.reset({ faults: true, clock: true });
    const program = async () => {
      const session = new klarefi.IntakeSession("claim", {
        caseTypeId: "motor_claim",
        externalCaseId: "claim_48392",
        externalApplicantId: "applicant_789",
        expiresAt: "2027-03-31T00:00:00Z",
      });
      return { sessionId: session.sessionId };
    };
    await withInlineStack({ projectName: "klarefi-mismatch", program, config: klarefiStackConfig(server) }, async ({ stack }) => {
      await stack.up();
      const [session] = await server.admin.sessions({ case_type_id: "motor_claim", status: "open" });
      expect(session).toBeDefined();
      // The deadline moves outside Pulumi, then the stack forgets the session: the next
      // create replays the same idempotency key and the API answers with the moved deadline.
      const client = new Klarefi({ apiKey: server.apiKey, baseUrl: server.url });
      await client.sessions.update(session!.session_id, { expires_at: "2027-05-01T00:00:00Z" });
      const exported = await stack.exportStack();
      const deployment = exported.deployment as { resources: { type: string }[] };
      deployment.resources = deployment.resources.filter((r) => r.type !== "pulumi-nodejs:dynamic/klarefi:IntakeSession");
      await stack.importStack(exported);

      expect(await failedUp(stack)).toContain('expires_at is "2027-05-01T00:00:00Z", not the requested "2027-03-31T00:00:00Z"');
      const refreshed = await stack.refresh();
      expect(refreshed.summary.result).toBe("succeeded");
      await stack.destroy();
      expect(await openOf("motor_claim")).toBe(0);
    });
  });
});
