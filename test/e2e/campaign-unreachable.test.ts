import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PulumiCliError, withCliStack } from "../../scripts/pulumi-cli";
import { installInto, packRepository, userProjectEnv, type PackedPackage } from "../helpers/package";
import { startTestServer } from "../helpers/server";
import { repoRoot, TEST_PASSPHRASE } from "../helpers/pulumi";

// A new user's first bulk campaign against an API that is not there: the
// package installed from its tarball into a project outside the repository,
// 2,000 applicants in a CSV, `klarefi:baseUrl` set in the stack config to a
// port nobody listens on, driven with the Pulumi CLI.

const repoManifest = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
const TESTED_SDK = repoManifest.devDependencies["@pulumi/pulumi"] ?? "";
const ROWS = 2000;

const PROGRAM = `
const klarefi = require("@klarefi/pulumi");
const campaign = new klarefi.IntakeCampaign("hail-2027", {
  caseTypeId: "hail_damage",
  csvFile: "applicants.csv",
  mode: "bulk",
  mailMergeFile: "links.csv",
});
exports.size = campaign.size;
`;

/** A port on 127.0.0.1 that was free a moment ago: connecting to it is refused. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** The whole output of a run that failed. */
function failedOutput(error: unknown): string {
  if (!(error instanceof PulumiCliError)) throw new Error(`expected pulumi to exit with an error, got ${String(error)}`);
  return `${error.result.stdout}\n${error.result.stderr}`;
}

const count = (n: number) => n.toLocaleString("en-US");

describe("a 2,000-row bulk campaign against an unreachable API, from a project outside the repository", () => {
  let packed: PackedPackage;
  const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-unreachable-"));
  const project = path.join(scratch, "project");

  beforeAll(async () => {
    packed = await packRepository();
    mkdirSync(project);
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "klarefi-unreachable", private: true, main: "index.js" }));
    writeFileSync(path.join(project, "Pulumi.yaml"), "name: klarefi-unreachable\nruntime: nodejs\n");
    writeFileSync(path.join(project, "index.js"), PROGRAM);
    const lines = ["external_case_id,external_applicant_id"];
    for (let i = 1; i <= ROWS; i++) lines.push(`hail_${String(i).padStart(4, "0")},applicant_${i}`);
    writeFileSync(path.join(project, "applicants.csv"), `${lines.join("\n")}\n`);
    await installInto(project, "npm", [packed.tarball, `@pulumi/pulumi@${TESTED_SDK}`]);
  }, 420_000);

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it(
    "stops after 10 refused rows, groups the reason into one line that names klarefi:baseUrl, counts the rows not attempted, writes no links file, takes a reissuing fix afterwards without refusing it, and after a part-failed up refreshes and destroys every link made",
    async () => {
      const port = await closedPort();
      await withCliStack(
        {
          projectDir: project,
          passphrase: TEST_PASSPHRASE,
          baseEnv: userProjectEnv(),
          pathPrefix: [],
          timeoutMs: 240_000,
          config: {
            "klarefi:baseUrl": { value: `http://127.0.0.1:${port}` },
            "klarefi:apiKey": { value: "sk_test_unreachable_0123456789", secret: true },
          },
        },
        async (stack) => {
          const output = failedOutput(await stack.up().then(() => undefined, (error: unknown) => error));

          const head = /Provisioning campaign hail-2027: (\d+) of 2,000 links failed and ([\d,]+) were not attempted \(the Klarefi API could not be reached for 10 rows in a row, so no further rows were started\)/.exec(output);
          expect(head, output.slice(-3000)).not.toBeNull();
          const failed = Number(head?.[1]);
          const notAttempted = Number(head?.[2]?.replace(/,/g, ""));
          expect(failed + notAttempted).toBe(ROWS);
          // At most the rows in flight when the 10th failure came back (twice the provider's cap of 8), plus the 9 started meanwhile.
          expect(failed).toBeGreaterThanOrEqual(10);
          expect(failed).toBeLessThanOrEqual(25);

          // One line for all the failed rows, naming the stack config key the URL came from.
          expect(output).toContain(
            `  - ${failed} rows (hail_0001, hail_0002, hail_0003, and ${failed - 3} more): Creating intake session failed: could not reach http://127.0.0.1:${port} (ECONNREFUSED) (1 attempt); check stack config klarefi:baseUrl and that the API is up`,
          );
          expect(output).toContain(`  - ${count(notAttempted)} rows not attempted (hail_${String(failed + 1).padStart(4, "0")}, `);
          expect(output).not.toContain("KLAREFI_BASE_URL");
          expect(output).not.toMatch(/and \d+ more\n/);
          // Progress and the closing line count nothing as made.
          expect(output).not.toContain("2,000/2,000 links");
          expect(output).toContain(`hail-2027: created 0, reissued 0, extended 0, revoked 0; ${failed} failed, ${count(notAttempted)} not attempted`);
          expect(output).not.toContain("Wrote ");
          expect(() => readFileSync(path.join(project, "links.csv"))).toThrow();

          // The fix after a failed create: a change that would need new links for live rows is not refused,
          // because no row has a link yet; the next up, against a reachable API, makes every link.
          const server = await startTestServer();
          try {
            await stack.setConfig("klarefi:baseUrl", server.url);
            await stack.setConfig("klarefi:apiKey", server.apiKey, { secret: true });
            writeFileSync(path.join(project, "index.js"), PROGRAM.replace('mode: "bulk",', 'mode: "bulk",\n  defaults: { locale: "fr" },'));
            // A refused change would fail this up before any API call.
            await stack.up();
            const open = await server.admin.sessions({ case_type_id: "hail_damage", status: "open" });
            expect(open).toHaveLength(ROWS);
            expect(new Set(open.map((s) => s.locale))).toEqual(new Set(["fr"]));
            await stack.destroy();
            expect(await server.admin.sessions({ case_type_id: "hail_damage", status: "open" })).toEqual([]);

            // A part-failed up (half the creates answered 500, no retries), then refresh and destroy: every link made is revoked.
            await stack.setConfig("klarefi:maxRetries", "0");
            await server.admin.setFaults({ seed: 5, rate500: 0.5 });
            const partial = failedOutput(await stack.up().then(() => undefined, (error: unknown) => error));
            expect(partial).toMatch(/Provisioning campaign hail-2027: [\d,]+ of 2,000 links failed/);
            await server.admin.setFaults({ rate500: 0 });
            const made = (await server.admin.sessions({ case_type_id: "hail_damage", status: "open" })).length;
            expect(made).toBeGreaterThan(0);
            expect(made).toBeLessThan(ROWS);
            await stack.refresh();
            await stack.destroy();
            expect(await server.admin.sessions({ case_type_id: "hail_damage", status: "open" })).toEqual([]);
          } finally {
            writeFileSync(path.join(project, "index.js"), PROGRAM);
            await server.stop();
          }
          expect(await stack.resources()).toEqual([]);
        },
      );
    },
    600_000,
  );
});
