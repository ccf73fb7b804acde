import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiCliStack } from "../../scripts/pulumi-cli";
import { pulumiProcessEnv } from "../../scripts/pulumi-env";
import { fixtureDatabase } from "../helpers/fixture-database";
import { installInto, packRepository, userProjectEnv } from "../helpers/package";
import { repoRoot, TEST_PASSPHRASE } from "../helpers/pulumi";
import { callsSince, startTestServer, type TestServer } from "../helpers/server";
import { unpackLinks } from "../../provider/campaign/links/packed";

// The packed package installed into a project outside the repository, driven
// by the Pulumi CLI against the local server: how a campaign CSV's layout
// problems reach the user (all at once, in our words, on their lines), and
// how a bulk campaign written by an earlier package with locales spelled
// "NL", "nl" and "nl-nl" (test/fixtures/bulk-9f8ad13) upgrades: no link is
// reissued for a case-only difference, and new links go out in canonical case.

const repoManifest = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
const TESTED_SDK = repoManifest.devDependencies["@pulumi/pulumi"] ?? "";
const FIXTURE = path.join(repoRoot, "test", "fixtures", "bulk-9f8ad13");
const HEADER = "external_case_id,external_applicant_id,locale,return_url";

const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-csv-locale-"));
let server: TestServer;
let csvStack: PulumiCliStack;

/** A Pulumi project folder under the installed project (`name`, plain JavaScript `index.js`). */
function writeProject(dir: string, name: string, program: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n`);
  writeFileSync(path.join(dir, "index.js"), program);
}

/** A stack of the project in `dir` on a backend of its own, with `env` added to the user's environment. */
function cliStack(dir: string, stack: string, env: Record<string, string> = {}): PulumiCliStack {
  const backendDir = path.join(dir, ".backend");
  const pulumiHome = path.join(dir, ".home");
  mkdirSync(backendDir, { recursive: true });
  mkdirSync(pulumiHome, { recursive: true });
  return new PulumiCliStack({
    projectDir: dir,
    stack,
    // After pulumiProcessEnv, which drops the ambient KLAREFI_* variables.
    env: { ...pulumiProcessEnv({ backendDir, pulumiHome, passphrase: TEST_PASSPHRASE, pathPrefix: [], base: userProjectEnv() }), ...env },
    timeoutMs: 180_000,
  });
}

beforeAll(async () => {
  const packed = await packRepository();
  writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "klarefi-csv-locale-test", private: true }));
  await installInto(scratch, "npm", [packed.tarball, `@pulumi/pulumi@${TESTED_SDK}`]);
  server = await startTestServer();
  const dir = path.join(scratch, "csv");
  writeProject(
    dir,
    "klarefi-csv",
    `const klarefi = require("@klarefi/pulumi");\nnew klarefi.IntakeCampaign("hail", { caseTypeId: "hail_damage", csvFile: "applicants.csv", mode: "bulk" });\n`,
  );
  csvStack = cliStack(dir, "csv");
  await csvStack.init();
  await csvStack.setAllConfig({ "klarefi:baseUrl": { value: server.url }, "klarefi:apiKey": { value: server.apiKey, secret: true } });
}, 600_000);

afterAll(async () => {
  await csvStack?.remove({ force: true, allowFailure: true }).catch(() => undefined);
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** `pulumi preview` of the CSV project with `csv` as its applicants.csv: the whole output, which must be a failure without API calls. */
async function refusedPreview(csv: string): Promise<string> {
  writeFileSync(path.join(csvStack.projectDir, "applicants.csv"), csv);
  const before = await server.admin.apiCalls();
  const run = await csvStack.run(["preview", "--non-interactive", ...csvStack.scope], { allowFailure: true });
  const output = `${run.stdout}\n${run.stderr}`;
  expect(run.code, output).not.toBe(0);
  expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
  expect(output).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack frame
  return output;
}

describe("a campaign CSV with a bad layout, in a project outside the repository", () => {
  it("reports both rows with an extra cell, in our words and on their lines, and nothing of the parser's", async () => {
    const output = await refusedPreview([HEADER, "hail_1,applicant_1,nl,", "hail_2,applicant_2,nl,,late", "hail_3,applicant_3,,", "hail_4,applicant_4,fr,,late", ""].join("\n"));
    expect(output).toContain("applicants.csv has 2 problems; nothing was sent to Klarefi:");
    expect(output).toContain("line 3: 5 cells, the header has 4 columns");
    expect(output).toContain("line 5: 5 cells, the header has 4 columns");
    expect(output).not.toContain("Invalid Record Length");
  });

  it("names an extra header column as an unknown column, not as a cell count on line 2", async () => {
    const output = await refusedPreview([`${HEADER},notes`, "hail_1,applicant_1,nl,", "hail_2,applicant_2,,", ""].join("\n"));
    expect(output).toContain("applicants.csv has 1 problem; nothing was sent to Klarefi:");
    expect(output).toContain('line 1: unknown column "notes" (expected external_case_id, external_applicant_id, locale, return_url)');
    expect(output).not.toMatch(/expect 5, got 4/);
  });

  it("reports a quote left open on line 3 of a 2001-line file at line 3", async () => {
    const rows = Array.from({ length: 1998 }, (_, i) => `hail_${i + 3},applicant_${i + 3},,`);
    const csv = [HEADER, "hail_1,applicant_1,nl,", 'hail_2,"applicant_2,nl,', ...rows].join("\n");
    expect(csv.split("\n")).toHaveLength(2001);
    const output = await refusedPreview(`${csv}\n`);
    expect(output).toContain("applicants.csv has 1 problem; nothing was sent to Klarefi:");
    expect(output).toContain("line 3: a quoted cell is not closed");
    expect(output).not.toContain("2001");
  });
});

describe("a bulk campaign written at 9f8ad13 with locales NL, nl and nl-nl (test/fixtures/bulk-9f8ad13)", () => {
  it("imports, moves to the packed form on the next up with no API call and no link changed; writing a locale in another case reissues nothing; a new row's locale is sent in canonical case; destroy revokes every live link", async () => {
    const dir = path.join(scratch, "bulk1");
    const program = readFileSync(path.join(FIXTURE, "program", "index.js"), "utf8");
    writeProject(dir, "klarefi-bulk1", program);
    const fixtureServer = await startTestServer({ dbPath: fixtureDatabase(FIXTURE, dir) });
    try {
      // The fixture's stack took its base URL from the environment, so its state names no port.
      const stack = cliStack(dir, "bulk1", { KLAREFI_BASE_URL: fixtureServer.url });
      await stack.init();
      // The fixture's salt, so its encrypted API key and links decrypt with the tests' passphrase.
      copyFileSync(path.join(FIXTURE, "Pulumi.bulk1.yaml"), path.join(dir, "Pulumi.bulk1.yaml"));
      await stack.run(["stack", "import", "--file", path.join(FIXTURE, "state.json"), ...stack.scope]);
      const sessionsBefore = Object.fromEntries((await fixtureServer.admin.sessions()).map((s) => [s.external_case_id, s]));
      expect(Object.keys(sessionsBefore)).toHaveLength(20);
      expect([sessionsBefore.hail_03?.locale, sessionsBefore.hail_09?.locale]).toEqual(["NL", "nl-nl"]);

      // The first up after the upgrade rewrites the stored maps in the packed form, with no API call and no link changed.
      let before = await fixtureServer.admin.apiCalls();
      const migrating = await stack.preview();
      expect(migrating.changeSummary).toEqual({ same: 2, update: 1 }); // the bulk resource's stored form
      await stack.up();
      expect(callsSince(before, await fixtureServer.admin.apiCalls())).toEqual({});
      const exported = await stack.run(["stack", "export", ...stack.scope]);
      const bulk = (JSON.parse(exported.stdout) as { deployment: { resources: { type: string; outputs?: Record<string, unknown> }[] } }).deployment.resources.find(
        (r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeCampaignLinks",
      );
      expect(bulk?.outputs?.sessions).toBeUndefined();
      expect(Object.fromEntries(Object.entries(unpackLinks(String(bulk?.outputs?.links))).map(([c, l]) => [c, l.id]))).toEqual(
        Object.fromEntries(Object.entries(sessionsBefore).map(([c, s]) => [c, s.session_id])),
      );
      before = await fixtureServer.admin.apiCalls();
      const unchanged = await stack.preview();
      expect(unchanged.changeSummary).toEqual({ same: 3 }); // the stack, the campaign and its bulk resource
      expect(callsSince(before, await fixtureServer.admin.apiCalls())).toEqual({});

      // Case-only edits: a default-locale row now NL, an NL row now nl, the completed NL row now on the default, nl-nl now NL-NL;
      // and a new row in NL-be, which goes out as nl-BE.
      const edited = program
        .replace('hail_03: "NL",', 'hail_01: "NL",\n  hail_03: "nl",')
        .replace('hail_04: "NL",', "")
        .replace('hail_09: "nl-nl",', 'hail_09: "NL-NL",\n  hail_21: "NL-be",')
        .replace("i <= 20", "i <= 21");
      expect(edited).not.toBe(program);
      writeFileSync(path.join(dir, "index.js"), edited);
      before = await fixtureServer.admin.apiCalls();
      const preview = await stack.preview();
      expect(preview.changeSummary).toEqual({ same: 2, update: 1 }); // the bulk resource: one row to create
      expect(callsSince(before, await fixtureServer.admin.apiCalls())).toEqual({});
      await stack.up();
      expect(callsSince(before, await fixtureServer.admin.apiCalls())).toEqual({ "POST /api/v1/sessions 201": 1 });
      const sessionsAfter = await fixtureServer.admin.sessions();
      expect(sessionsAfter).toHaveLength(21);
      const added = sessionsAfter.find((s) => s.external_case_id === "hail_21");
      expect(added?.locale).toBe("nl-BE");
      // Every link the fixture's stack made is the same session in the same state.
      for (const [caseId, session] of Object.entries(sessionsBefore)) {
        const now = sessionsAfter.find((s) => s.session_id === session.session_id);
        expect(now?.status, caseId).toBe(session.status);
      }
      before = await fixtureServer.admin.apiCalls();
      expect((await stack.preview()).changeSummary).toEqual({ same: 3 });
      expect(callsSince(before, await fixtureServer.admin.apiCalls())).toEqual({});

      // Destroy revokes every link that is not already revoked (18 open, the new one, and the completed one, which stays completed).
      await stack.destroy();
      expect(callsSince(before, await fixtureServer.admin.apiCalls())).toEqual({ "POST /api/v1/sessions/{id}/revoke 200": 20 });
      const destroyed = Object.fromEntries((await fixtureServer.admin.sessions()).map((s) => [s.external_case_id, s.status]));
      expect(Object.entries(destroyed).filter(([, status]) => status !== "revoked")).toEqual([["hail_04", "completed"]]);
      await stack.remove({ force: true, allowFailure: true });
    } finally {
      await fixtureServer.stop();
    }
  });
});
