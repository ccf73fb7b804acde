import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, copyFileSync, mkdirSync, openSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOk, killProcessesWithEnv } from "../helpers/cli-project";
import { builtPackage, klarefiStackConfig, offlinePulumiEnv, randomStackName, repoRoot, withInlineStack } from "../helpers/pulumi";
import { checkpointKey, lockPrefix, type RunningS3Server, startTestS3Server, stateObjects } from "../helpers/s3";
import { callsSince, useTestServer } from "../helpers/server";
import { waitFor } from "../helpers/wait";

// Campaign state in a bucket on an S3-compatible server (moto, started on a
// free loopback port for this file), as a team keeps it: the whole campaign
// lifecycle through the Automation API, then two people (two `pulumi` CLI
// processes with their own PULUMI_HOME and project folder) on one stack, and
// a run killed while it holds the stack's lock.

const klarefi = builtPackage();

const server = useTestServer({ resetBeforeEach: false });
let s3: RunningS3Server;
beforeAll(async () => {
  s3 = await startTestS3Server();
});
afterAll(async () => {
  await s3?.stop();
});

/** Open sessions per external case id among those starting with `prefix`. */
async function openByCase(prefix: string): Promise<Map<string, string[]>> {
  const byCase = new Map<string, string[]>();
  for (const s of await server.admin.sessions({ status: "open" })) {
    if (!s.external_case_id.startsWith(prefix)) continue;
    byCase.set(s.external_case_id, [...(byCase.get(s.external_case_id) ?? []), s.session_id]);
  }
  return byCase;
}

/** Polling of the CLI tests: every 100 ms, at most 600 times and 60 s. */
const POLL = { intervalMs: 100, tries: 600, timeoutMs: 60_000 };

const LOCK_REFUSAL = "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.";

// ---------------------------------------------------------------------------
// The campaign lifecycle, once per campaign mode.

/** Both campaign modes: the API calls are the same, the resources in the stack differ. */
const CAMPAIGN_MODES = [
  { mode: "per-link", resources: (rows: number) => rows },
  { mode: "bulk", resources: () => 1 },
] as const;

interface Row {
  externalCaseId: string;
  externalApplicantId: string;
  locale?: string;
}

describe.each(CAMPAIGN_MODES)("a $mode campaign with its state in an S3 bucket", ({ mode, resources }) => {
  it("lives through up, a no-op preview with no API call, a one-row edit, refresh and destroy, with no secret in plaintext in any object of the bucket", async () => {
    const project = "klarefi-s3";
    const tag = `s3_${randomBytes(3).toString("hex")}_`;
    const n = 5;
    let rows: Row[] = Array.from({ length: n }, (_, i) => ({ externalCaseId: `${tag}${i + 1}`, externalApplicantId: `applicant_${i + 1}` }));
    const program = async () => {
      const campaign = new klarefi.IntakeCampaign("team", { caseTypeId: "hail_damage", rows, mode, defaults: { locale: "nl" }, reissue: "allow" });
      return { links: campaign.links, size: campaign.size };
    };
    await withInlineStack(
      { projectName: project, program, config: klarefiStackConfig(server), env: s3.env },
      async ({ stack, stackName, backendDir }) => {
        let before = await server.admin.apiCalls();
        const up = await stack.up();
        expect(up.summary.result).toBe("succeeded");
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "POST /api/v1/sessions 201": n });
        expect(up.outputs.links?.secret).toBe(true);
        const links = up.outputs.links?.value as Record<string, { sessionId: string; signedUrl: string }>;
        expect(Object.keys(links).sort()).toEqual(rows.map((r) => r.externalCaseId).sort());
        expect([...(await openByCase(tag)).values()].map((ids) => ids.length)).toEqual(Array(n).fill(1));

        // The state is in the bucket, not in a folder.
        expect(readdirSync(backendDir)).toEqual([]);
        const checkpoint = JSON.parse(await s3.getObject(checkpointKey(project, stackName))) as { checkpoint: { latest: { resources: { type: string }[] } } };
        const inState = checkpoint.checkpoint.latest.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/klarefi:"));
        expect(inState).toHaveLength(resources(n));

        // Every object (checkpoint, its backup, history) holds the links and the key only encrypted.
        const objects = await stateObjects(s3, project);
        expect(objects.size).toBeGreaterThan(1);
        const everything = [...objects.values()].join("\n");
        expect(everything).toContain("ciphertext");
        // The objects read are this stack's state: its rows' case ids (this run's own tag) are there.
        for (const caseId of Object.keys(links)) expect(everything).toContain(caseId);
        expect(everything.includes(server.apiKey), "API key in plaintext in the bucket").toBe(false);
        for (const link of Object.values(links)) {
          const sig = new URL(link.signedUrl).searchParams.get("sig");
          expect(sig).toBeTruthy();
          expect(everything.includes(sig ?? "missing"), "a link's signature in plaintext in the bucket").toBe(false);
        }

        // A no-change preview: nothing to do, no API call.
        before = await server.admin.apiCalls();
        const preview = await stack.preview();
        expect(preview.changeSummary).toEqual({ same: 2 + resources(n) });
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({});

        // One row edited: that row alone gets a new link, its old one is revoked.
        const edited = rows[2]?.externalCaseId ?? "";
        rows = rows.map((r) => (r.externalCaseId === edited ? { ...r, locale: "fr" } : r));
        before = await server.admin.apiCalls();
        const edit = await stack.up();
        expect(edit.summary.result).toBe("succeeded");
        const editCalls = callsSince(before, await server.admin.apiCalls());
        expect(editCalls["POST /api/v1/sessions 201"]).toBe(1);
        expect(editCalls["POST /api/v1/sessions/{id}/revoke 200"]).toBe(1);
        const afterEdit = edit.outputs.links?.value as Record<string, { sessionId: string }>;
        for (const row of rows) {
          if (row.externalCaseId === edited) expect(afterEdit[row.externalCaseId]?.sessionId).not.toBe(links[row.externalCaseId]?.sessionId);
          else expect(afterEdit[row.externalCaseId]?.sessionId).toBe(links[row.externalCaseId]?.sessionId);
        }
        const openAfterEdit = await openByCase(tag);
        expect(openAfterEdit.get(edited)).toEqual([afterEdit[edited]?.sessionId]);
        expect([...openAfterEdit.values()].flat()).toHaveLength(n);

        // refresh reads every link once and writes a state the bucket still serves whole.
        before = await server.admin.apiCalls();
        const refresh = await stack.refresh();
        expect(refresh.summary.result).toBe("succeeded");
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "GET /api/v1/sessions/{id} 200": n });
        const exported = (await stack.exportStack()).deployment as { resources?: unknown[] };
        const stored = JSON.parse(await s3.getObject(checkpointKey(project, stackName))) as { checkpoint: { latest: { resources: unknown[] } } };
        expect(stored.checkpoint.latest.resources).toHaveLength(exported.resources?.length ?? -1);

        // destroy revokes every link; the bucket keeps a readable, empty checkpoint.
        before = await server.admin.apiCalls();
        const destroy = await stack.destroy();
        expect(destroy.summary.result).toBe("succeeded");
        expect(callsSince(before, await server.admin.apiCalls())).toEqual({ "POST /api/v1/sessions/{id}/revoke 200": n });
        expect((await openByCase(tag)).size).toBe(0);
        const emptied = JSON.parse(await s3.getObject(checkpointKey(project, stackName))) as { checkpoint: { latest?: { resources?: unknown[] } } };
        expect(emptied.checkpoint.latest?.resources ?? []).toEqual([]);
      },
    );
  });
});

// ---------------------------------------------------------------------------
// Two people, and a killed run, through the CLI.

const CLI_PROGRAM = `
const klarefi = require("@klarefi/pulumi");
const tag = process.env.KLAREFI_TEST_TAG;
const count = Number(process.env.KLAREFI_TEST_ROWS);
const firstLocale = process.env.KLAREFI_TEST_FIRST_LOCALE || "nl";
const rows = [];
for (let i = 1; i <= count; i++) {
  rows.push({ externalCaseId: tag + i, externalApplicantId: "applicant_" + i, locale: i === 1 ? firstLocale : undefined });
}
const campaign = new klarefi.IntakeCampaign("team", { caseTypeId: "hail_damage", rows, defaults: { locale: "nl" }, reissue: "allow" });
exports.size = campaign.size;
`;

interface CliResult {
  status: number | null;
  /** stdout and stderr */
  output: string;
  stdout: string;
}

/** One person's copy of the project: their own folder and PULUMI_HOME, the team's bucket. */
interface Person {
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
  pulumi(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** Starts `pulumi up` in its own process group, for killing; its output goes to `upLog`. */
  spawnUp(extraEnv?: Record<string, string>): ChildProcess;
  upLog: string;
}

const PROJECT = "klarefi-team";

function person(name: string, stack: string, tag: string, rows: number): Person {
  const base = path.join(repoRoot, ".klarefi", "tmp");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, `s3-${name}-`));
  const home = path.join(dir, ".home");
  mkdirSync(home);
  writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${PROJECT}\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n`);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: PROJECT, private: true, main: "index.js" }));
  writeFileSync(path.join(dir, "index.js"), CLI_PROGRAM);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The offline environment of the other tests, with the bucket instead of a folder.
    ...offlinePulumiEnv(path.join(dir, "unused-backend"), home),
    ...s3.env,
    KLAREFI_TEST_TAG: tag,
    KLAREFI_TEST_ROWS: String(rows),
    PATH: `${path.join(repoRoot, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
  };
  const pulumi = (args: string[], extraEnv: Record<string, string> = {}) =>
    new Promise<CliResult>((resolve) => {
      // Asynchronous on purpose: the Klarefi server runs in this process and must keep answering.
      execFile(
        "pulumi",
        [...args, "--non-interactive", "--stack", stack],
        { cwd: dir, env: { ...env, ...extraEnv }, encoding: "utf8", timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error && typeof error.code === "number" ? error.code : error ? -1 : 0;
          resolve({ status: code, output: `${stdout}\n${stderr}`, stdout });
        },
      );
    });
  const upLog = path.join(dir, "up.log");
  const spawnUp = (extraEnv: Record<string, string> = {}) => {
    const log = openSync(upLog, "w");
    try {
      return spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack], {
        cwd: dir,
        env: { ...env, ...extraEnv },
        detached: true,
        stdio: ["ignore", log, log],
      });
    } finally {
      closeSync(log);
    }
  };
  return { dir, home, env, pulumi, spawnUp, upLog };
}

/** Creates the stack in Alice's folder and hands its settings file to Bob, as a team shares it through git. */
async function initSharedStack(alice: Person, bob: Person, stack: string): Promise<void> {
  expectOk(await alice.pulumi(["stack", "init"]));
  const settings = ["--secret", `klarefi:apiKey=${server.apiKey}`, "--plaintext", `klarefi:baseUrl=${server.url}`, "--plaintext", "klarefi:maxConcurrentRequests=1"];
  expectOk(await alice.pulumi(["config", "set-all", ...settings]));
  copyFileSync(path.join(alice.dir, `Pulumi.${stack}.yaml`), path.join(bob.dir, `Pulumi.${stack}.yaml`));
}

async function cleanup(people: Person[]): Promise<void> {
  const [first] = people;
  if (first) {
    await first.pulumi(["cancel", "--yes"]);
    await first.pulumi(["destroy", "--yes", "--skip-preview"]);
    await first.pulumi(["stack", "rm", "--yes", "--force"]);
  }
  for (const p of people) {
    killProcessesWithEnv(`PULUMI_HOME=${p.home}`);
    rmSync(p.dir, { recursive: true, force: true });
  }
}

describe("a team sharing one stack in an S3 bucket", () => {
  it("refuses the second of two simultaneous pulumi up runs with Pulumi's lock message, creates nothing twice and keeps the bucket's state readable", async () => {
    await server.admin.reset({ faults: true });
    const stack = randomStackName("team");
    const tag = `two_${randomBytes(3).toString("hex")}_`;
    const rows = 4;
    const alice = person("alice", stack, tag, rows);
    const bob = person("bob", stack, tag, rows);
    try {
      await initSharedStack(alice, bob, stack);
      const creates = async () => (await server.admin.apiCalls())["POST /api/v1/sessions 201"] ?? 0;
      const createsBefore = await creates();

      // Alice's run is slow (one call at a time, 1.5 s each): Bob starts while it holds the lock.
      await server.admin.setFaults({ latencyMs: 1_500 });
      const aliceRun = alice.pulumi(["up", "--yes", "--skip-preview"]);
      await waitFor("Alice's run to take the stack's lock", async () => ((await s3.listKeys(lockPrefix(PROJECT, stack))).length > 0 ? true : undefined), POLL);
      const bobRun = await bob.pulumi(["up", "--yes", "--skip-preview"]);
      const aliceResult = await aliceRun;
      await server.admin.setFaults({ latencyMs: 0 });
      expectOk(aliceResult);
      expect(bobRun.status).not.toBe(0);
      expect(bobRun.output).toContain(LOCK_REFUSAL);
      expect(bobRun.output).toContain(`/.pulumi/locks/organization/${PROJECT}/${stack}/`);
      expect(await creates()).toBe(createsBefore + rows);
      expect([...(await openByCase(tag)).values()].map((ids) => ids.length)).toEqual(Array(rows).fill(1));
      expect(await s3.listKeys(lockPrefix(PROJECT, stack))).toEqual([]);

      // Bob tries again once Alice is done: he sees her state, and there is nothing to do.
      const bobAgain = await bob.pulumi(["up", "--yes", "--skip-preview"]);
      expectOk(bobAgain);
      expect(await creates()).toBe(createsBefore + rows);

      // Both edit the same row and start at the same moment: at most one run goes through,
      // every other is refused by the lock, and only the edited row gets a new link.
      const edit = { KLAREFI_TEST_FIRST_LOCALE: "fr" };
      const racing = await Promise.all([alice.pulumi(["up", "--yes", "--skip-preview"], edit), bob.pulumi(["up", "--yes", "--skip-preview"], edit)]);
      const succeeded = racing.filter((r) => r.status === 0);
      expect(succeeded.length).toBeLessThanOrEqual(1);
      for (const refused of racing.filter((r) => r.status !== 0)) expect(refused.output).toContain("the stack is currently locked by");
      expect(await creates()).toBe(createsBefore + rows + succeeded.length);
      const open = await openByCase(tag);
      expect([...open.values()].map((ids) => ids.length)).toEqual(Array(rows).fill(1));

      // The state in the bucket is whole: both people can export it, and it names every link once.
      const exported = await bob.pulumi(["stack", "export"]);
      expectOk(exported);
      const deployment = (JSON.parse(exported.stdout) as { deployment: { resources: { type: string; id?: string }[] } }).deployment;
      const sessions = deployment.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/klarefi:IntakeSession");
      expect(sessions.map((r) => r.id).sort()).toEqual([...open.values()].flat().sort());
      expectOk(await alice.pulumi(["stack", "export"]));
      const checkpoint = JSON.parse(await s3.getObject(checkpointKey(PROJECT, stack))) as { checkpoint: { latest: { resources: unknown[] } } };
      expect(checkpoint.checkpoint.latest.resources).toHaveLength(deployment.resources.length);
    } finally {
      await server.admin.setFaults({ latencyMs: 0 });
      await cleanup([alice, bob]);
    }
  });

  const recipes = [
    {
      recipe: "pulumi cancel",
      clear: async (p: Person) => expectOk(await p.pulumi(["cancel", "--yes"])),
    },
    {
      recipe: "deleting the lock object",
      clear: async (_p: Person, stack: string) => {
        const locks = await s3.listKeys(lockPrefix(PROJECT, stack));
        expect(locks).toHaveLength(1);
        for (const key of locks) await s3.deleteObject(key);
      },
    },
  ];

  it.each(recipes)("clears the lock left by a run killed with SIGKILL through $recipe, after which pulumi up finishes with one link per row", async ({ clear }) => {
    await server.admin.reset({ faults: true });
    const stack = randomStackName("kill");
    const tag = `kill_${randomBytes(3).toString("hex")}_`;
    const rows = 3;
    const alice = person("alice", stack, tag, rows);
    const bob = person("bob", stack, tag, rows);
    try {
      await initSharedStack(alice, bob, stack);
      await server.admin.setFaults({ latencyMs: 1_000 });
      const run = alice.spawnUp();
      const exited = new Promise((resolve) => run.once("exit", resolve));
      try {
        await waitFor("the killed run's first create", async () => {
          if (run.exitCode !== null) throw new Error(`pulumi up ended (${run.exitCode}) before it was killed:\n${readFileSync(alice.upLog, "utf8").slice(-3000)}`);
          return (await server.admin.sessions({ status: "open" })).some((s) => s.external_case_id.startsWith(tag)) ? true : undefined;
        }, POLL);
      } finally {
        if (run.pid !== undefined && run.exitCode === null) process.kill(-run.pid, "SIGKILL");
        await exited;
        killProcessesWithEnv(`PULUMI_HOME=${alice.home}`);
        await server.admin.setFaults({ latencyMs: 0 });
      }

      // The lock outlives the run and stops everyone, with the object's address in the message.
      const locks = await s3.listKeys(lockPrefix(PROJECT, stack));
      expect(locks).toHaveLength(1);
      expect(locks[0]).toMatch(new RegExp(`^\\.pulumi/locks/organization/${PROJECT}/${stack}/[0-9a-f-]{36}\\.json$`));
      const lock = JSON.parse(await s3.getObject(locks[0] ?? "")) as { pid: number; timestamp: string };
      expect(lock.pid).toBeGreaterThan(0);
      const blocked = await bob.pulumi(["up", "--yes", "--skip-preview"]);
      expect(blocked.status).not.toBe(0);
      expect(blocked.output).toContain(LOCK_REFUSAL);
      expect(blocked.output).toContain(locks[0]);

      // The documented recipe, then a normal run: one open link per row, none twice.
      await clear(bob, stack);
      expect(await s3.listKeys(lockPrefix(PROJECT, stack))).toEqual([]);
      expectOk(await bob.pulumi(["up", "--yes", "--skip-preview"]));
      expect([...(await openByCase(tag)).values()].map((ids) => ids.length)).toEqual(Array(rows).fill(1));
      expectOk(await bob.pulumi(["refresh", "--clear-pending-creates", "--yes"]));
      const preview = await bob.pulumi(["preview"]);
      expectOk(preview);
      expect(preview.stdout).toMatch(/\d+ unchanged/);
      expect(preview.stdout).not.toMatch(/to create|to update|to replace|to delete/);
    } finally {
      await server.admin.setFaults({ latencyMs: 0 });
      await cleanup([alice, bob]);
    }
  });
});
