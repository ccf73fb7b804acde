import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cliProject, expectOk } from "../helpers/cli-project";
import { exportedState, initStack, klarefiCli, resourceNamed, yamlProject } from "../helpers/plugin-project";
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

describe("a YAML campaign from a CSV asset", () => {
  it("refuses a CSV with a bad layout and bad rows with every problem's line, before any API call", async () => {
    const project = yamlProject(
      "klarefi-yaml-csv",
      "resources:\n  storm:\n    type: klarefi:index:IntakeCampaignLinks\n    properties:\n      caseTypeId: home_claim\n      csvFile:\n        fn::fileAsset: applicants.csv\n",
    );
    try {
      writeFileSync(
        path.join(project.dir, "applicants.csv"),
        [
          "external_case_id,external_applicant_id,locale,return_url",
          "storm_1,applicant_1,nl,",
          "storm_2,applicant_2,nl,,late", // line 3: an extra cell
          "storm_3,,nl_NL,", // line 4: no applicant, not a BCP 47 tag
          'storm_4,"applicant_4,,', // line 5: a quote never closed
          "storm_5,applicant_5,,",
          "",
        ].join("\n"),
      );
      await initStack(project, server);
      const before = await server.admin.apiCalls();
      const run = await project.pulumi(["preview"]);
      expect(run.status).not.toBe(0);
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
      expect(run.output).toContain("applicants.csv: line 3: 5 cells, the header has 4 columns");
      expect(run.output).toContain('applicants.csv: line 4: external_applicant_id is required; locale must be a BCP 47 language tag such as "nl" or "nl-BE"');
      expect(run.output).toContain("applicants.csv: line 5: a quoted cell is not closed");
      expect(run.output).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
    } finally {
      await project.cleanup();
    }
  });
});

describe("examples/yaml-campaign", () => {
  it("goes up with one session, a three-row campaign and a three-row campaign from a CSV asset, previews as a no-op, takes an imported session, changes only the CSV line that changed, and destroy revokes every link", async () => {
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
        ["storm_2027_0001", "applicant_40001", "nl", null],
        ["storm_2027_0002", "applicant_40002", "fr", null],
        ["storm_2027_0003", "applicant_40003", "nl", "https://claims.example.com/storm/broker/vandermeer"],
      ]);
      const outputs = await project.pulumi(["stack", "output", "--json"]);
      expectOk(outputs);
      const shown = JSON.parse(outputs.output.slice(0, outputs.output.lastIndexOf("}") + 1)) as Record<string, unknown>;
      expect(shown.sessionId).toBe(open.find((s) => s.external_case_id === "claim_48392")?.session_id);
      expect(shown.signedUrl).toBe("[secret]");
      expect(shown.campaignLinks).toBe("[secret]");
      expect(shown.campaignSummary).toEqual({ total: 3, open: 3, completed: 0, revoked: 0, expired: 0 });
      expect(shown.stormSummary).toEqual({ total: 3, open: 3, completed: 0, revoked: 0, expired: 0 });

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

      // One line added to the CSV and one line's locale written in another case: one link made, nothing else touched.
      const csvFile = path.join(project.dir, "applicants.csv");
      writeFileSync(csvFile, readFileSync(csvFile, "utf8").replace("applicant_40002,fr,", "applicant_40002,FR,") + "storm_2027_0004,applicant_40004,nl-be,\n");
      before = await server.admin.apiCalls();
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "POST /api/v1/sessions 201": 1 });
      const added = (await server.admin.sessions({ status: "open" })).find((s) => s.external_case_id === "storm_2027_0004");
      expect(added?.locale).toBe("nl-BE");

      expectOk(await project.pulumi(["destroy", "--yes", "--skip-preview"]));
      expect(await server.admin.sessions({ status: "open" })).toEqual([]);
      expect(await server.admin.sessions({ status: "revoked" })).toHaveLength(9);
    } finally {
      await project.cleanup();
    }
  });
});
