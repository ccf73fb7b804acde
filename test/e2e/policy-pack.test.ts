import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withCliStack } from "../../scripts/pulumi-cli";
import { type CliProject, cliProject, expectOk } from "../helpers/cli-project";
import { installInto, packRepository, userProjectEnv } from "../helpers/package";
import { initStack, yamlProject } from "../helpers/plugin-project";
import { repoRoot, TEST_PASSPHRASE } from "../helpers/pulumi";
import { callsSince, startTestServer, type TestServer } from "../helpers/server";

// The policy pack (policy/) run by the real engine: `pulumi up --policy-pack`
// starts it through the Node.js language host's RunPlugin (kind analyzer),
// whatever the program's language, and a mandatory violation stops the run
// before the provider makes any API call. One TypeScript program (dynamic
// provider) and one YAML program (provider plugin), against the local server.

const PACK = path.join(repoRoot, "policy");
const DAY_MS = 86_400_000;
const LINK_TIMEOUT_MS = 600_000;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

/** An RFC 3339 time `days` from now, to the second. */
function daysAhead(days: number): string {
  return new Date(Date.now() + days * DAY_MS).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Days from now to each open session's expiry, rounded, by external case id. */
async function openExpiries(): Promise<Record<string, number>> {
  const open = await server.admin.sessions({ status: "open" });
  return Object.fromEntries(open.map((s) => [s.external_case_id, Math.round((Date.parse(s.expires_at) - Date.now()) / DAY_MS)]));
}

/**
 * A TypeScript program (ts-node, dynamic provider): one session and a
 * per-link campaign of three, every link expiring `expiryDays` (stack config)
 * from now, with `reissue: "allow"` left on the session.
 */
const TS_PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import * as klarefi from "@klarefi/pulumi";

const days = new pulumi.Config().requireNumber("expiryDays");
const expiresAt: string = new Date(Date.now() + days * 86_400_000).toISOString().replace(/\\.\\d{3}Z$/, "Z");

const session = new klarefi.IntakeSession("claim-1", {
  caseTypeId: "motor_claim",
  externalCaseId: "claim_1",
  externalApplicantId: "applicant_1",
  returnUrl: "https://claims.example.com/claim_1",
  expiresAt,
  reissue: "allow",
});
const spring = new klarefi.IntakeCampaign("spring", {
  caseTypeId: "hail_damage",
  rows: [1, 2, 3].map((i) => ({ externalCaseId: \`hail_\${i}\`, externalApplicantId: \`applicant_\${i}\` })),
  defaults: { expiresAt, returnUrl: "https://claims.example.com/hail" },
});
export const sessionId = session.sessionId;
export const summary = spring.summary;
`;

function typeScriptProject(): CliProject {
  const project = cliProject("klarefi-policy-ts", "");
  writeFileSync(path.join(project.dir, "Pulumi.yaml"), "name: klarefi-policy-ts\nruntime: nodejs\nmain: index.ts\n");
  writeFileSync(path.join(project.dir, "index.ts"), TS_PROGRAM);
  return project;
}

/**
 * A YAML program (provider plugin): a two-row bulk campaign, then one session
 * (after it, so that the campaign is the first resource the engine checks),
 * every link expiring `days` from now.
 */
function yamlProgram(days: number, options: { reissue?: boolean } = {}): string {
  const expiresAt = daysAhead(days);
  return `resources:
  claim-2:
    type: klarefi:index:IntakeSession
    properties:
      caseTypeId: motor_claim
      externalCaseId: claim_2
      externalApplicantId: applicant_2
      returnUrl: https://claims.example.com/claim_2
      expiresAt: ${expiresAt}${options.reissue ? "\n      reissue: allow" : ""}
    options:
      dependsOn:
        - \${autumn}
  autumn:
    type: klarefi:index:IntakeCampaignLinks
    properties:
      caseTypeId: hail_damage
      returnUrl: https://claims.example.com/hail
      expiresAt: ${expiresAt}${options.reissue ? "\n      reissue: allow" : ""}
      rows:
        autumn_1:
          applicant: applicant_31
        autumn_2:
          applicant: applicant_32
          returnUrl: https://claims.example.com/hail/broker
`;
}

describe("the intake-link policy pack under the real engine", () => {
  it(
    "stops a TypeScript program's up over a 200-day link before any API call, lets the same up make it without the pack, and passes 30 days with advisory warnings",
    async () => {
      await server.admin.reset({ faults: true });
      const project = typeScriptProject();
      try {
        await initStack(project, server);
        expectOk(await project.pulumi(["config", "set", "expiryDays", "200"]));

        let before = await server.admin.apiCalls();
        const refused = await project.pulumi(["up", "--yes", "--skip-preview", "--policy-pack", PACK]);
        expect(refused.status, refused.output).not.toBe(0);
        expect(refused.output).toContain("[mandatory]  intake-link-max-expiry");
        // The engine stops at the first resource refused; which link registers first is the program's business.
        expect(refused.output).toMatch(/IntakeSession "(claim-1|spring-hail_\d)": expiresAt \S+ is 200 days ahead, more than the 90 days the policy allows \(maxDays\)/);
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
        expect(await server.admin.sessions()).toEqual([]);

        expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));
        expect(await openExpiries()).toEqual({ claim_1: 200, hail_1: 200, hail_2: 200, hail_3: 200 });

        expectOk(await project.pulumi(["config", "set", "expiryDays", "30"]));
        const config = path.join(project.dir, "policy-config.json");
        writeFileSync(config, JSON.stringify({ "intake-campaign-per-link-size": { maxRows: 2 } }));
        before = await server.admin.apiCalls();
        const passed = await project.pulumi(["up", "--yes", "--skip-preview", "--policy-pack", PACK, "--policy-pack-config", config]);
        expectOk(passed);
        expect(passed.output).not.toContain("[mandatory]");
        expect(passed.output).toContain("[advisory]  intake-link-reissue-left-on");
        expect(passed.output).toContain('IntakeSession "claim-1" keeps reissue: "allow"');
        expect(passed.output).toContain("[advisory]  intake-campaign-per-link-size");
        expect(passed.output).toContain('IntakeCampaign "spring" keeps 3 links in per-link mode (one IntakeSession each), more than 2 (maxRows). Use mode: "bulk"');
        // The deadlines moved in place: the same four links, no new one.
        expect(await openExpiries()).toEqual({ claim_1: 30, hail_1: 30, hail_2: 30, hail_3: 30 });
        expect(callsSince(before, await server.admin.apiCalls())).not.toHaveProperty(["POST /api/v1/sessions 201"]);
      } finally {
        await project.cleanup();
      }
    },
    LINK_TIMEOUT_MS,
  );

  it(
    "stops a YAML program's up over a 200-day campaign before any API call, lets the same up make its links without the pack, and passes 30 days with the reissue warnings",
    async () => {
      await server.admin.reset({ faults: true });
      const project = yamlProject("klarefi-policy-yaml", yamlProgram(200));
      const rewrite = (program: string) =>
        writeFileSync(path.join(project.dir, "Pulumi.yaml"), `name: klarefi-policy-yaml\nruntime: yaml\n${program}\nplugins:\n  providers:\n    - name: klarefi\n      path: ${path.join(repoRoot, "bin")}\n`);
      try {
        await initStack(project, server);

        let before = await server.admin.apiCalls();
        const refused = await project.pulumi(["up", "--yes", "--skip-preview", "--policy-pack", PACK]);
        expect(refused.status, refused.output).not.toBe(0);
        expect(refused.output).toContain("[mandatory]  intake-link-max-expiry");
        expect(refused.output).toMatch(/IntakeCampaignLinks "autumn": expiresAt \S+ is 200 days ahead, more than the 90 days the policy allows \(maxDays\); it applies to all 2 rows/);
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
        expect(await server.admin.sessions()).toEqual([]);

        expectOk(await project.pulumi(["up", "--yes", "--skip-preview"]));
        expect(await openExpiries()).toEqual({ claim_2: 200, autumn_1: 200, autumn_2: 200 });

        rewrite(yamlProgram(30, { reissue: true }));
        before = await server.admin.apiCalls();
        const passed = await project.pulumi(["up", "--yes", "--skip-preview", "--policy-pack", PACK]);
        expectOk(passed);
        expect(passed.output).not.toContain("[mandatory]");
        expect(passed.output).toContain("[advisory]  intake-link-reissue-left-on");
        expect(passed.output).toContain('IntakeCampaignLinks "autumn" keeps reissue: "allow": while it stays, a change to the case type');
        expect(passed.output).toContain('IntakeSession "claim-2" keeps reissue: "allow"');
        expect(await openExpiries()).toEqual({ claim_2: 30, autumn_1: 30, autumn_2: 30 });
        expect(callsSince(before, await server.admin.apiCalls())).not.toHaveProperty(["POST /api/v1/sessions 201"]);
      } finally {
        await project.cleanup();
      }
    },
    LINK_TIMEOUT_MS,
  );

  it(
    "runs from a user's install of the packed package at node_modules/@klarefi/pulumi/policy, with @pulumi/policy added by the user, and refuses a 200-day link in preview",
    async () => {
      const manifest = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
      const packed = await packRepository();
      const root = mkdtempSync(path.join(tmpdir(), "klarefi-policy-user-"));
      try {
        writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "klarefi-policy-user", private: true }));
        await installInto(root, "npm", [packed.tarball, `@pulumi/pulumi@${manifest.devDependencies["@pulumi/pulumi"]}`, `@pulumi/policy@${manifest.devDependencies["@pulumi/policy"]}`]);
        const project = path.join(root, "program");
        mkdirSync(project);
        writeFileSync(path.join(project, "Pulumi.yaml"), "name: klarefi-policy-user\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n");
        writeFileSync(
          path.join(project, "index.js"),
          `const klarefi = require("@klarefi/pulumi");
new klarefi.IntakeSession("claim-9", { caseTypeId: "motor_claim", externalCaseId: "claim_9", externalApplicantId: "applicant_9", expiresAt: ${JSON.stringify(daysAhead(200))} });
`,
        );
        await withCliStack(
          {
            projectDir: project,
            passphrase: TEST_PASSPHRASE,
            baseEnv: userProjectEnv(),
            pathPrefix: [],
            timeoutMs: 180_000,
            config: { "klarefi:baseUrl": { value: server.url }, "klarefi:apiKey": { value: server.apiKey, secret: true } },
          },
          async (stack) => {
            const before = await server.admin.apiCalls();
            const preview = await stack.run(["preview", "--non-interactive", "--policy-pack", path.join(root, "node_modules", "@klarefi", "pulumi", "policy"), ...stack.scope], {
              allowFailure: true,
            });
            const output = `${preview.stdout}\n${preview.stderr}`;
            expect(preview.code, output).not.toBe(0);
            expect(output).toContain(`klarefi-intake-links@v${String(packed.manifest.version)} (local: ${path.join(root, "node_modules", "@klarefi", "pulumi", "policy")})`);
            expect(output).toMatch(/IntakeSession "claim-9": expiresAt \S+ is 200 days ahead, more than the 90 days the policy allows \(maxDays\)/);
            expect(callsSince(before, await server.admin.apiCalls())).toEqual({});
          },
        );
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
    LINK_TIMEOUT_MS,
  );
});
