import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAIL_MERGE_COLUMNS } from "../../provider/campaign/mail-merge";
import { withCliStack, type PulumiCliStack } from "../../scripts/pulumi-cli";
import { installInto, linkStatus, packRepository, startDevServer, userProjectEnv, type DevServer, type PackedPackage } from "../helpers/package";
import { repoRoot, TEST_PASSPHRASE } from "../helpers/pulumi";
import { startTestServer } from "../helpers/server";

// The programs a user runs with the `pulumi` CLI, driven through that CLI as
// child processes: the language host, ts-node, the dynamic-provider plugin
// and the file backend all take part, as they do on a user's machine.
//
// - The root Pulumi.yaml is the repository's own project: it runs in place,
//   against the in-process server, with the repository's node_modules.
// - Each example is a standalone project: it is copied to a temporary folder
//   outside the repository, gets `npm install` with the packed package in
//   place of the registry version, and runs against `klarefi dev` started
//   from that install's own bin, as the example's README tells a user to.

const CLI_TIMEOUT_MS = 120_000;

const repoManifest = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
/** The examples' `@pulumi/pulumi` range is resolved to the SDK the repository tests, so an SDK release cannot change this test under us. */
const TESTED_SDK = repoManifest.devDependencies["@pulumi/pulumi"] ?? "";

/** Stack config that points the provider at a Klarefi server. */
function klarefiConfig(server: { url: string }, apiKey: string): Record<string, { value: string; secret?: boolean }> {
  return { "klarefi:baseUrl": { value: server.url }, "klarefi:apiKey": { value: apiKey, secret: true } };
}

/** Status of every session on the server, by external case id (one session per case in these tests). */
async function statusByCase(server: { sessions(status?: string): Promise<{ external_case_id: string; status: string }[]> }): Promise<Map<string, string>> {
  const sessions = await server.sessions();
  return new Map(sessions.map((s) => [s.external_case_id, s.status]));
}

function readCsvRows(file: string): string[][] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.split(","));
}

/**
 * Copies examples/<name> (without any node_modules) to a fresh folder under
 * the temp folder and installs it: its own package.json's dependencies, with
 * the packed tarball for @klarefi/pulumi. Returns the folder.
 */
async function installExample(name: string, packed: PackedPackage, scratch: string): Promise<string> {
  const dir = path.join(scratch, name);
  cpSync(path.join(repoRoot, "examples", name), dir, { recursive: true, filter: (src) => !src.split(path.sep).includes("node_modules") });
  await installInto(dir, "npm", [packed.tarball, `@pulumi/pulumi@${TESTED_SDK}`]);
  return dir;
}

/** Runs `fn` with `klarefi dev` from the example's own install, stopped afterwards. */
async function withExampleServer<T>(dir: string, fn: (server: DevServer) => Promise<T>): Promise<T> {
  const server = await startDevServer(path.join(dir, "node_modules", ".bin", "klarefi"), { cwd: dir, dbDir: dir, env: userProjectEnv() });
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** A throwaway stack of the copied example, run with the user's environment (no repository on PATH). */
function withExampleStack<T>(dir: string, server: DevServer, fn: (stack: PulumiCliStack) => Promise<T>): Promise<T> {
  return withCliStack(
    { projectDir: dir, passphrase: TEST_PASSPHRASE, baseEnv: userProjectEnv(), timeoutMs: CLI_TIMEOUT_MS, config: klarefiConfig(server, server.apiKey) },
    fn,
  );
}

describe("the Pulumi programs through the pulumi CLI", () => {
  const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-examples-"));
  let packed: PackedPackage;

  beforeAll(async () => {
    packed = await packRepository();
  }, 300_000);

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it(
    "runs the root Pulumi.yaml program with our language host: stack config drives the campaign, up opens its links, destroy revokes them",
    async () => {
      const server = await startTestServer();
      const files = mkdtempSync(path.join(tmpdir(), "klarefi-root-"));
      try {
        await withCliStack(
          {
            projectDir: repoRoot,
            passphrase: TEST_PASSPHRASE,
            pathPrefix: [path.join(repoRoot, "node_modules", ".bin")],
            timeoutMs: CLI_TIMEOUT_MS,
            config: klarefiConfig(server, server.apiKey),
          },
          async (stack) => {
            // Without a csvFile the program takes the example's applicants.csv from the project folder.
            const exampleRows = readCsvRows(path.join(repoRoot, "examples", "campaign", "applicants.csv")).length - 1;
            const defaults = await stack.preview();
            expect(defaults.changeSummary).toEqual({ create: exampleRows + 2 }); // the rows, the campaign, the stack

            const csv = path.join(files, "storm.csv");
            writeFileSync(csv, "external_case_id,external_applicant_id,locale\nstorm_1,app_1,\nstorm_2,app_2,de\nstorm_3,app_3,\n");
            const mailMerge = path.join(files, "mail-merge.csv");
            await stack.setAllConfig({
              "klarefi-intake:csvFile": { value: csv },
              "klarefi-intake:caseTypeId": { value: "home_claim" },
              "klarefi-intake:locale": { value: "fr" },
              "klarefi-intake:returnUrl": { value: "https://claims.example.com/storm" },
              "klarefi-intake:mailMergeFile": { value: mailMerge },
            });

            const up = await stack.up();
            // up says where it wrote the links, and how many.
            expect(up.stdout).toContain(`Wrote 3 links to ${mailMerge} (mode 0600: it holds live links)`);
            const shown = await stack.outputs(false);
            expect(shown.size).toBe(3);
            expect(shown.links).toBe("[secret]");
            const links = (await stack.outputs(true)).links as Record<string, { sessionId: string; signedUrl: string }>;
            expect(Object.keys(links).sort()).toEqual(["storm_1", "storm_2", "storm_3"]);

            const open = await server.admin.sessions({ status: "open" });
            expect(open.map((s) => s.session_id).sort()).toEqual(Object.values(links).map((l) => l.sessionId).sort());
            for (const s of open) {
              expect(s.case_type_id).toBe("home_claim");
              expect(s.return_url).toBe("https://claims.example.com/storm");
              expect(s.locale).toBe(s.external_case_id === "storm_2" ? "de" : "fr"); // a row's own locale wins
            }

            // the mail-merge file holds the live links, readable by the owner only
            expect(statSync(mailMerge).mode & 0o777).toBe(0o600);
            const merged = readCsvRows(mailMerge);
            expect(merged[0]).toEqual([...MAIL_MERGE_COLUMNS]);
            expect(merged.slice(1).map((r) => [r[0], r[1], r[2]]).sort()).toEqual(
              Object.entries(links).map(([caseId, l]) => [caseId, caseId.replace("storm", "app"), l.sessionId]).sort(),
            );

            await stack.destroy();
            expect(await server.admin.sessions({ status: "open" })).toEqual([]);
            const statuses = await statusByCase({ sessions: () => server.admin.sessions() });
            expect([...statuses.values()]).toEqual(["revoked", "revoked", "revoked"]);
          },
        );
        expect(readdirSync(repoRoot).filter((f) => /^Pulumi\..+\.yaml$/.test(f))).toEqual([]);
      } finally {
        rmSync(files, { recursive: true, force: true });
        await server.stop();
      }
    },
    300_000,
  );

  it(
    "runs examples/single-session copied out of the repository with npm install: the documentation's session goes up and destroy revokes it",
    async () => {
      const dir = await installExample("single-session", packed, scratch);
      await withExampleServer(dir, (server) =>
        withExampleStack(dir, server, async (stack) => {
          await stack.up();
          expect((await stack.outputs(false)).signedUrl).toBe("[secret]");
          const { sessionId, signedUrl } = (await stack.outputs(true)) as { sessionId: string; signedUrl: string };

          const [session, ...others] = await server.sessions();
          expect(others).toEqual([]);
          expect(session).toMatchObject({
            session_id: sessionId,
            status: "open",
            case_type_id: "motor_claim",
            external_case_id: "claim_48392",
            external_applicant_id: "applicant_789",
            return_url: "https://claims.example.com/claim_48392",
            locale: "nl",
          });
          expect(session?.signed_url).toBe(signedUrl);
          expect(await linkStatus(signedUrl)).toBe(200);

          await stack.destroy();
          expect((await server.sessions())[0]?.status).toBe("revoked");
          expect(await linkStatus(signedUrl)).toBe(410);
        }),
      );
    },
    300_000,
  );

  it(
    "runs examples/campaign copied out of the repository with npm install: its CSV goes up, an edited row is refused naming that row, an added row previews as its create alone, destroy revokes every link",
    async () => {
      const dir = await installExample("campaign", packed, scratch);
      await withExampleServer(dir, (server) =>
        withExampleStack(dir, server, async (stack) => {
          const rows = readCsvRows(path.join(dir, "applicants.csv"));
          const header = rows[0] ?? [];
          const body = rows.slice(1);
          expect(header).toEqual(["external_case_id", "external_applicant_id", "locale", "return_url"]);
          expect(body.length).toBeGreaterThanOrEqual(50);

          await stack.setConfig("klarefi-hail-campaign:mailMergeFile", "links.csv");
          await stack.up();
          expect((await stack.outputs(false)).size).toBe(body.length);
          const links = (await stack.outputs(true)).links as Record<string, { sessionId: string; signedUrl: string }>;
          expect(Object.keys(links).sort()).toEqual(body.map((r) => r[0]).sort());

          const open = await server.sessions("open");
          expect(open).toHaveLength(body.length);
          for (const row of body) {
            const s = open.find((x) => x.external_case_id === row[0]);
            expect(s, `session of ${row[0]}`).toBeDefined();
            expect(s?.case_type_id).toBe("hail_damage");
            expect(s?.external_applicant_id).toBe(row[1]);
            expect(s?.locale).toBe(row[2] || "nl");
            expect(s?.return_url).toBe(row[3] || "https://claims.example.com/hail");
          }
          const merged = readCsvRows(path.join(dir, "links.csv"));
          expect(merged).toHaveLength(body.length + 1);
          expect(statSync(path.join(dir, "links.csv")).mode & 0o777).toBe(0o600);

          // Editing a row's locale would reissue a mailed link: the preview refuses, naming that row alone.
          const csvFile = path.join(dir, "applicants.csv");
          const original = readFileSync(csvFile, "utf8");
          const edited = body[4] ?? [];
          const lines = original.split("\n");
          const index = lines.findIndex((l) => l.startsWith(`${edited[0]},`));
          lines[index] = `${edited[0]},${edited[1]},de,${edited[3] ?? ""}`;
          writeFileSync(csvFile, lines.join("\n"));
          const calls = await server.apiCalls();
          const refused = await stack.run(["preview", "--json", "--non-interactive", ...stack.scope], { allowFailure: true });
          expect(refused.code).not.toBe(0);
          expect(refused.stdout).toContain(`This change would revoke and reissue 1 live link (${edited[0]})`);

          // Adding a row previews as that row's create alone.
          writeFileSync(csvFile, `${original.trimEnd()}\nhail_2026_09999,applicant_99999,en,\n`);
          const preview = await stack.preview();
          expect(preview.changeSummary).toEqual({ create: 1, same: body.length + 2 });
          const touched = preview.steps.filter((s) => s.op !== "same").map((s) => s.urn);
          expect(touched).toEqual([expect.stringMatching(/::hail-hail_2026_09999$/)]);
          // previews change nothing on the server, and call nothing
          expect(await server.apiCalls()).toBe(calls);
          expect(await server.sessions("open")).toHaveLength(body.length);

          await stack.destroy();
          expect(await server.sessions("open")).toEqual([]);
          const statuses = await statusByCase(server);
          expect(statuses.size).toBe(body.length);
          expect(new Set(statuses.values())).toEqual(new Set(["revoked"]));
          const anyLink = links[edited[0] ?? ""]?.signedUrl ?? "";
          expect(anyLink).not.toBe("");
          expect(await linkStatus(anyLink)).toBe(410);
        }),
      );
    },
    300_000,
  );
});
