import { readFileSync } from "node:fs";
import path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { fetch } from "undici";
import { describe, expect, it } from "vitest";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { callsSince, useTestServer } from "../helpers/server";

const klarefi = builtPackage();

const server = useTestServer({ resetBeforeEach: false });

interface Row {
  externalCaseId: string;
  externalApplicantId: string;
  locale?: string;
}

interface CampaignSettings {
  rows: Row[];
  locale?: string;
  expiresAt?: string;
  reissue?: "allow";
  rotation?: string;
  mode?: "per-link" | "bulk";
  retainOnDelete?: boolean;
}

const rowsOf = (n: number, prefix = "claim"): Row[] =>
  Array.from({ length: n }, (_, i) => ({ externalCaseId: `${prefix}_${i + 1}`, externalApplicantId: `applicant_${i + 1}` }));

/** A program with one campaign whose settings the test changes between runs. */
function campaignProgram(settings: () => CampaignSettings) {
  return async () => {
    const s = settings();
    const campaign = new klarefi.IntakeCampaign("hail", {
      caseTypeId: "hail_damage",
      rows: s.rows,
      mode: s.mode ?? "bulk",
      defaults: { locale: s.locale ?? "nl", expiresAt: s.expiresAt },
      reissue: s.reissue,
      rotation: s.rotation,
      retainOnDelete: s.retainOnDelete,
    });
    return { links: campaign.links, summary: campaign.summary };
  };
}

type Links = Record<string, { sessionId: string; signedUrl: string }>;
type Summary = { total: number; open: number; completed: number; revoked: number; expired: number };

function rawStateFile(backendDir: string, project: string, stack: string): string {
  return readFileSync(path.join(backendDir, ".pulumi", "stacks", project, `${stack}.json`), "utf8");
}

async function statusOf(url: string): Promise<number> {
  const res = await fetch(url);
  await res.text();
  return res.status;
}

async function outputs(stack: Stack): Promise<{ links: Links; summary: Summary }> {
  const out = await stack.outputs();
  return { links: out.links?.value as Links, summary: out.summary?.value as Summary };
}

/** The bulk resource's own summary in state (what `refresh` writes). */
async function bulkSummary(stack: Stack): Promise<unknown> {
  const deployment = (await stack.exportStack()).deployment as { resources: { type: string; outputs?: Record<string, unknown> }[] };
  return deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks")?.outputs?.summary;
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");

const N = 12;

describe.each(["bulk", "per-link"] as const)("a %s campaign through the real engine", (mode) => {
  it("provisions every row with one create each, previews with no API call, edits one row, guards, refreshes, extends, reissues on request and destroys", async () => {
    let settings: CampaignSettings = { rows: rowsOf(N), expiresAt: inDays(30), mode };
    const resources = mode === "bulk" ? 1 : N;
    await withInlineStack(
      { projectName: "klarefi-modes", program: campaignProgram(() => settings), config: klarefiStackConfig(server) },
      async ({ stack, stackName, backendDir }) => {
        // up: one create per row
        let before = await server.admin.apiCalls();
        const up = await stack.up();
        expect(up.summary.result).toBe("succeeded");
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "POST /api/v1/sessions 201": N });
        let { links, summary } = await outputs(stack);
        expect(Object.keys(links)).toHaveLength(N);
        expect(summary).toEqual({ total: N, open: N, completed: 0, revoked: 0, expired: 0 });
        expect((await stack.outputs()).links?.secret).toBe(true);
        const deployment = (await stack.exportStack()).deployment as { resources: { type: string }[] };
        const ofType = (t: string) => deployment.resources.filter((r) => r.type === `pulumi-nodejs:dynamic/klarefi:${t}`).length;
        expect(ofType("IntakeCampaignLinks")).toBe(mode === "bulk" ? 1 : 0);
        expect(ofType("IntakeSession")).toBe(mode === "bulk" ? 0 : N);

        // the state holds no signed URL or key in plaintext
        const state = rawStateFile(backendDir, "klarefi-modes", stackName);
        const firstLink = links.claim_1 as { signedUrl: string };
        expect(state.includes(new URL(firstLink.signedUrl).searchParams.get("sig") ?? "missing")).toBe(false);
        expect(state.includes(server.apiKey)).toBe(false);
        expect(await statusOf(firstLink.signedUrl)).toBe(200);

        // no-change preview: nothing to do, no API call
        before = await server.admin.apiCalls();
        const preview = await stack.preview();
        expect(preview.changeSummary).toEqual({ same: 2 + resources });
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

        // add one row, remove one row: one create, one revoke, every other link untouched
        const original = links;
        settings = { ...settings, rows: [...rowsOf(N).filter((r) => r.externalCaseId !== "claim_2"), { externalCaseId: "claim_new", externalApplicantId: "applicant_new" }] };
        before = await server.admin.apiCalls();
        // preview --diff names the added and the removed row (and makes no call: the counts below include it)
        const diffPreview = await stack.preview({ diff: true });
        if (mode === "bulk") {
          // the packed rows show as a line diff of only the changed lines; the provider names them in one line too
          expect(diffPreview.stdout).toContain('+ ["claim_new","applicant_new"]');
          expect(diffPreview.stdout).toContain('- ["claim_2","applicant_2"]');
          expect(diffPreview.stdout.match(/^\s*[-+] \["claim_/gm)).toHaveLength(2);
          // a plain preview gives the counts and names the rows in one line
          const plainPreview = await stack.preview();
          expect(plainPreview.stdout).toContain(`hail: create 1, revoke 1; ${N - 1} unchanged: +claim_new -claim_2`);
        } else {
          expect(diffPreview.stdout).toMatch(/\+ pulumi-nodejs:dynamic\/klarefi:IntakeSession: \(create\)[\s\S]*::hail-claim_new\]/);
          expect(diffPreview.stdout).toMatch(/- pulumi-nodejs:dynamic\/klarefi:IntakeSession: \(delete\)[\s\S]*::hail-claim_2\]/);
        }
        const edit = await stack.up();
        expect(edit.summary.resourceChanges).toMatchObject(mode === "bulk" ? { update: 1 } : { create: 1, delete: 1 });
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "POST /api/v1/sessions 201": 1, "POST /api/v1/sessions/{id}/revoke 200": 1 });
        ({ links } = await outputs(stack));
        expect(links.claim_2).toBeUndefined();
        expect(links.claim_new).toBeDefined();
        expect(await statusOf(original.claim_2?.signedUrl as string)).toBe(410);
        for (const id of ["claim_1", "claim_3", `claim_${N}`]) expect(links[id]?.sessionId).toBe(original[id]?.sessionId);

        // a change that needs new links is refused with the count, and nothing is called
        settings = { ...settings, locale: "fr" };
        before = await server.admin.apiCalls();
        const refusal = mode === "bulk" ? new RegExp(`would revoke and reissue ${N} live links`) : /would revoke and reissue 1 live link \(claim_/;
        await expect(stack.preview()).rejects.toThrow(refusal);
        await expect(stack.preview()).rejects.toThrow(/a new locale needs a new link/);
        // The sentence alone: not inside the engine's dump of every row's value.
        await expect(stack.preview()).rejects.not.toThrow(/property rows value/);
        await expect(stack.up()).rejects.toThrow(/set reissue: "allow"/);
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
        settings = { ...settings, locale: "nl" };

        // an applicant completes, another link is revoked out of band; refresh updates the summary
        const completedId = links.claim_5?.sessionId as string;
        await server.admin.completeSession(completedId);
        const revokedOutOfBand = await server.api(`/api/v1/sessions/${links.claim_6?.sessionId}/revoke`, { method: "POST" });
        expect(revokedOutOfBand.status).toBe(200);
        before = await server.admin.apiCalls();
        const refresh = await stack.refresh({ runProgram: true });
        expect(refresh.summary.result).toBe("succeeded");
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "GET /api/v1/sessions/{id} 200": N });
        if (mode === "bulk") {
          expect(refresh.stdout).toContain("2 sessions changed status: claim_5 open → completed, claim_6 open → revoked");
          expect(await bulkSummary(stack)).toEqual({ total: N, open: N - 2, completed: 1, revoked: 1, expired: 0 });
        }
        ({ summary } = await outputs(stack));
        expect(summary).toEqual({ total: N, open: N - 2, completed: 1, revoked: 1, expired: 0 });

        // extending the deadline keeps every link: same ids, still 200, new expiry on the server
        const newExpiry = inDays(60);
        settings = { ...settings, expiresAt: newExpiry };
        before = await server.admin.apiCalls();
        const extend = await stack.up();
        expect(extend.summary.result).toBe("succeeded");
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "PATCH /api/v1/sessions/{id} 200": N - 2 });
        const extended = (await outputs(stack)).links;
        for (const [caseId, link] of Object.entries(links)) expect(extended[caseId]?.sessionId).toBe(link.sessionId);
        expect(await statusOf(extended.claim_1?.signedUrl as string)).toBe(200);
        expect(extended.claim_1?.signedUrl).toBe(links.claim_1?.signedUrl);
        const onServer = (await server.admin.sessions({ external_case_id: "claim_1" })).find((s) => s.session_id === extended.claim_1?.sessionId);
        expect(Date.parse(onServer?.expires_at ?? "")).toBe(Date.parse(newExpiry));

        // with opt-in, a locale change reissues the other links, keeps the completed one, and revokes the old links
        settings = { ...settings, locale: "fr", reissue: "allow" };
        before = await server.admin.apiCalls();
        const reissue = await stack.up();
        expect(reissue.summary.result).toBe("succeeded");
        const calls = callsSince(before, await server.admin.apiCalls());
        expect(calls["POST /api/v1/sessions 201"]).toBe(N - 1); // every row but the completed one
        expect(calls["POST /api/v1/sessions/{id}/revoke 200"]).toBe(mode === "bulk" ? N - 2 : N - 1); // per-link also re-revokes the revoked one
        const reissued = (await outputs(stack)).links;
        expect(reissued.claim_5?.sessionId).toBe(completedId);
        expect(reissued.claim_1?.sessionId).not.toBe(extended.claim_1?.sessionId);
        expect(await statusOf(extended.claim_1?.signedUrl as string)).toBe(410);
        expect(await statusOf(reissued.claim_1?.signedUrl as string)).toBe(200);
        const fresh = await server.admin.sessions({ external_case_id: "claim_1", status: "open" });
        expect(fresh.map((s) => s.locale)).toEqual(["fr"]);

        // destroy revokes every link
        before = await server.admin.apiCalls();
        await stack.destroy();
        expect(callsSince(before, await server.admin.apiCalls())["POST /api/v1/sessions/{id}/revoke 200"]).toBe(N);
        const open = await server.admin.sessions({ status: "open" });
        expect(open.filter((s) => s.case_type_id === "hail_damage")).toEqual([]);
      },
    );
  });
});
