import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { cliProject, expectOk } from "../helpers/cli-project";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { callsSince, useTestServer } from "../helpers/server";

const klarefi = builtPackage();

const server = useTestServer({ resetBeforeEach: false });

/** What the Automation API reports of a failed run: the CLI's whole output. */
async function failureOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    return String(error);
  }
  throw new Error("the run succeeded; a failure was expected");
}

/** The "Diagnostics:" part of a CLI run's output, where Pulumi shows each error in full. */
function diagnostics(output: string): string {
  const start = output.indexOf("Diagnostics:");
  const end = output.indexOf("Resources:", start);
  return start < 0 ? "" : output.slice(start, end < 0 ? undefined : end);
}

/** Times `needle` occurs in `text`. */
const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

describe("campaign and config problems through the real engine", () => {
  it.each(["bulk", "per-link"] as const)(
    "reports five different row problems of a CSV at once, with their lines, in one message without a stack trace (%s)",
    async (mode) => {
      const program = `
const klarefi = require("@klarefi/pulumi");
new klarefi.IntakeCampaign("broken", { caseTypeId: "hail_damage", csvFile: "applicants.csv", mode: "${mode}" });
`;
      const project = cliProject("klarefi-errors", program);
      onTestFinished(() => project.cleanup());
      writeFileSync(
        path.join(project.dir, "applicants.csv"),
        [
          "external_case_id,external_applicant_id,locale,return_url",
          "c1,a1,nl,",
          "c2,,nl,", // line 3: no applicant
          "c3,a3,nl_NL,", // line 4: not a BCP 47 tag
          "c4,a4,,http://claims.example.com/c4", // line 5: not https
          "c1,a5,,", // line 6: duplicate case id
          `${"x".repeat(256)},a7,,`, // line 7: case id too long
        ].join("\n"),
      );
      expectOk(await project.pulumi(["stack", "init"]));
      expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
      expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
      const before = await server.admin.apiCalls();
      const run = await project.pulumi(["preview"]);
      expect(run.status).not.toBe(0);
      const output = run.output;
      expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
      // The progress line shows the message's first line; the diagnostics show it whole, once.
      expect(occurrences(diagnostics(output), "applicants.csv has 5 problems; nothing was sent to Klarefi:")).toBe(1);
      expect(occurrences(output, "line 3: external_applicant_id is required")).toBe(1);
      expect(output).toMatch(/line 4: locale must be a BCP 47 language tag/);
      expect(output).toMatch(/line 5: return_url must be an absolute https:\/\/ URL/);
      expect(output).toContain('line 6: external_case_id "c1" duplicates line 2');
      expect(output).toMatch(/line 7: external_case_id must be at most 255 characters/);
      expect(output).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack frame
      expect(output).not.toContain("\u001b["); // no colour codes
    },
  );

  it("refuses a klarefi:apiKey set without --secret, with the exact command to fix it and no API call", async () => {
    const program = `
const klarefi = require("@klarefi/pulumi");
new klarefi.IntakeSession("claim", { caseTypeId: "motor_claim", externalCaseId: "claim_1", externalApplicantId: "applicant_1" });
`;
    const project = cliProject("klarefi-errors", program);
    onTestFinished(() => project.cleanup());
    expectOk(await project.pulumi(["stack", "init"]));
    expectOk(await project.pulumi(["config", "set", "klarefi:apiKey", server.apiKey]));
    expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
    const before = await server.admin.apiCalls();
    const run = await project.pulumi(["up", "--yes"]);
    expect(run.status).not.toBe(0);
    expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
    expect(occurrences(diagnostics(run.output), `pulumi config set --secret klarefi:apiKey <your API key> --stack ${project.stack}`)).toBe(1);
    expect(run.output).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
    // Fixed as told, the same program goes up.
    expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
    expectOk(await project.pulumi(["up", "--yes"]));
  });

  it("names the stack config key of a bad base URL, once, without a stack trace", async () => {
    const program = async () => {
      new klarefi.IntakeSession("claim", { caseTypeId: "motor_claim", externalCaseId: "claim_2", externalApplicantId: "applicant_2" });
    };
    const config = { ...klarefiStackConfig(server), "klarefi:baseUrl": { value: `${server.url}/api/v1` } };
    await withInlineStack({ projectName: "klarefi-errors", program, config }, async ({ stack }) => {
      const output = await failureOf(() => stack.up());
      expect(output).toMatch(/Stack config klarefi:baseUrl .*\/api\/v1/);
      expect(output).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
      expect(output).not.toContain("\u001b[");
    });
  });
});
