import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cliProject, expectOk } from "../helpers/cli-project";
import { exportedState, initStack, klarefiCli, resourceNamed } from "../helpers/plugin-project";
import { repoRoot } from "../helpers/pulumi";
import { callsSince, useTestServer } from "../helpers/server";

// examples/yaml-campaign through the Pulumi CLI and the YAML language host
// (built from the Go module proxy by scripts/setup.sh --with yaml, beside the CLI). The
// example is copied to a scratch project whose node_modules/@klarefi/pulumi
// points at this checkout, which is what `npm install` gives a user (the
// packed install itself is test/e2e/package.test.ts's business).

const YAML_HOST = path.join(repoRoot, "node_modules", ".klarefi-pulumi", "bin", "pulumi-language-yaml");

const server = useTestServer({ resetBeforeEach: false });
beforeAll(async () => {
  if (!existsSync(YAML_HOST) && !process.env.PATH?.split(path.delimiter).some((dir) => existsSync(path.join(dir, "pulumi-language-yaml")))) {
    throw new Error(`No pulumi-language-yaml beside the CLI (${YAML_HOST}) or on PATH: run bash scripts/setup.sh --with yaml (npm test does it; it needs Go).`);
  }
});

/** The example, copied into a fresh CLI project folder with the package "installed" by a link. */
function exampleProject() {
  const project = cliProject("klarefi-yaml-campaign", "");
  cpSync(path.join(repoRoot, "examples", "yaml-campaign"), project.dir, { recursive: true });
  mkdirSync(path.join(project.dir, "node_modules", "@klarefi"), { recursive: true });
  symlinkSync(repoRoot, path.join(project.dir, "node_modules", "@klarefi", "pulumi"));
  return project;
}

describe("examples/yaml-campaign", () => {
  it("goes up with one session and a three-row campaign, previews as a no-op, takes an imported session and destroy revokes every link", async () => {
    await server.admin.reset({ faults: true });
    const project = exampleProject();
    try {
      await initStack(project, server);
      const up = await project.pulumi(["up", "--yes", "--skip-preview"]);
      expectOk(up);
      expect(up.output).not.toContain("warning");
      const open = await server.admin.sessions({ status: "open" });
      expect(open.map((s) => [s.external_case_id, s.external_applicant_id, s.locale, s.return_url]).sort()).toEqual([
        ["claim_48392", "applicant_789", "nl", "https://claims.example.com/claim_48392"],
        ["hail_2027_0001", "applicant_30001", "nl", "https://claims.example.com/hail"],
        ["hail_2027_0002", "applicant_30002", "fr", "https://claims.example.com/hail"],
        ["hail_2027_0003", "applicant_30003", "nl", "https://claims.example.com/hail/broker/vandermeer"],
      ]);
      const outputs = await project.pulumi(["stack", "output", "--json"]);
      expectOk(outputs);
      const shown = JSON.parse(outputs.output.slice(0, outputs.output.lastIndexOf("}") + 1)) as Record<string, unknown>;
      expect(shown.sessionId).toBe(open.find((s) => s.external_case_id === "claim_48392")?.session_id);
      expect(shown.signedUrl).toBe("[secret]");
      expect(shown.campaignLinks).toBe("[secret]");
      expect(shown.campaignSummary).toEqual({ total: 3, open: 3, completed: 0, revoked: 0, expired: 0 });

      let before = await server.admin.apiCalls();
      expectOk(await project.pulumi(["preview", "--expect-no-changes"]));
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

      // A session made outside Pulumi: `pulumi import` prints the YAML that declares it; with that YAML added, nothing changes.
      const created = JSON.parse(
        await klarefiCli(
          ["sessions", "create", "--case-type", "motor_claim", "--external-case-id", "claim_48393", "--external-applicant-id", "applicant_790", "--locale", "nl", "--json"],
          server,
        ),
      ) as { session_id: string };
      const generated = path.join(project.dir, "imported.yaml");
      expectOk(await project.pulumi(["import", "klarefi:index:IntakeSession", "claim-48393", created.session_id, "--yes", "--protect=false", "--out", generated]));
      const code = readFileSync(generated, "utf8");
      expect(code).toContain("type: klarefi:IntakeSession");
      expect(code).toMatch(/externalCaseId: claim_48393/);
      const program = readFileSync(path.join(project.dir, "Pulumi.yaml"), "utf8");
      const declared = code.replace(/^resources:\n/, "");
      writeFileSync(path.join(project.dir, "Pulumi.yaml"), program.replace(/^outputs:/m, `${declared}outputs:`));
      before = await server.admin.apiCalls();
      expectOk(await project.pulumi(["preview", "--expect-no-changes"]));
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
      const state = await exportedState(project);
      expect(resourceNamed(state.resources, "klarefi:index:IntakeSession", "claim-48393").id).toBe(created.session_id);

      expectOk(await project.pulumi(["destroy", "--yes", "--skip-preview"]));
      expect(await server.admin.sessions({ status: "open" })).toEqual([]);
      expect(await server.admin.sessions({ status: "revoked" })).toHaveLength(5);
    } finally {
      await project.cleanup();
    }
  });
});
