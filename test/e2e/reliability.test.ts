import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { clearFileBackendLocks, cliProject, type CliProject, expectOk, startKillableUp } from "../helpers/cli-project";
import { repoRoot } from "../helpers/pulumi";
import { useTestServer } from "../helpers/server";
import { waitFor } from "../helpers/wait";

// These tests drive the `pulumi` CLI on a program folder, so that a run can be
// killed the hard way (SIGKILL to the CLI and every plugin it started).

/** Preload that widens every undici pool of a `pulumi` run to 64 connections (see the file). */
const WIDE_POOL = path.join(repoRoot, "test", "helpers", "wide-connection-pool.cjs");

/** Environment for a `pulumi` run whose provider gets a 64-connection pool, logging each pool to `log`. */
function widePoolEnv(log: string): Record<string, string> {
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${WIDE_POOL}`.trim(), KLAREFI_TEST_POOL_LOG: log };
}

/** The connection counts the provider's client asked for in a run under widePoolEnv (each pool got 64). */
function poolsAsked(log: string): (number | null)[] {
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => (JSON.parse(line) as { asked: number | null; given: number }).asked);
}

const server = useTestServer({ resetBeforeEach: false });

const PROGRAM = `
const klarefi = require("@klarefi/pulumi");
const count = Number(process.env.KLAREFI_TEST_SESSIONS ?? "1");
const ids = {};
for (let i = 1; i <= count; i++) {
  const s = new klarefi.IntakeSession("claim-" + i, {
    caseTypeId: "hail_damage",
    externalCaseId: "storm_" + i,
    externalApplicantId: "applicant_" + i,
  });
  ids["storm_" + i] = s.sessionId;
}
exports.ids = ids;
`;

/** A CLI project whose program makes `sessions` IntakeSessions. */
function sessionsProject(sessions: number): CliProject {
  return cliProject("klarefi-reliability", PROGRAM, { KLAREFI_TEST_SESSIONS: String(sessions) });
}

describe("reliability of provisioning runs", () => {
  it("never leaves two open sessions for one resource when a pulumi up is killed mid-create and run again", async () => {
    await server.admin.reset({ faults: true });
    const project = sessionsProject(1);
    try {
      expectOk(await project.pulumi(["stack", "init"]));
      expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
      expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
      // Every answer to a create is lost after the commit, so the provider is
      // still retrying when the whole process group is killed.
      await server.admin.setFaults({ seed: 3, commitThenDrop: 1 });
      const run = startKillableUp(project);
      const committed = await waitFor(
        "the session to be committed",
        async () => {
          const open = await server.admin.sessions({ external_case_id: "storm_1" });
          return open.length > 0 ? open : undefined;
        },
        { tries: 600, intervalMs: 100, timeoutMs: 60_000 },
      );
      expect(committed).toHaveLength(1);
      await run.killHard();
      await server.admin.setFaults({ commitThenDrop: 0 });

      // A killed CLI leaves its lock on the file backend; clearing it is the documented recovery.
      expect(clearFileBackendLocks(project.backendDir)).toBe(true);

      const again = await project.pulumi(["up", "--yes", "--skip-preview"]);
      expectOk(again);
      const open = await server.admin.sessions({ external_case_id: "storm_1", status: "open" });
      expect(open.map((s) => s.session_id)).toEqual(committed.map((s) => s.session_id));
      const outputs = await project.pulumi(["stack", "output", "ids", "--json"]);
      expectOk(outputs);
      expect(JSON.parse(outputs.output.trim().split("\n\n")[0] ?? "{}")).toEqual({ storm_1: committed[0]?.session_id });
    } finally {
      await server.admin.setFaults({ commitThenDrop: 0 });
      await project.cleanup();
    }
  });

  it("provisions 40 links with --parallel 64 through a storm of 429s without exceeding the concurrency cap, over a 64-connection pool", async () => {
    await server.admin.reset({ faults: true });
    const project = sessionsProject(40);
    try {
      expectOk(await project.pulumi(["stack", "init"]));
      expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
      expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
      expectOk(await project.pulumi(["config", "set", "klarefi:maxConcurrentRequests", "4"]));
      await server.admin.setFaults({ seed: 5, rate429: 0.3, retryAfterSeconds: 0, latencyMs: 20 });
      const poolLog = path.join(project.dir, "pools.log");
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview", "--parallel", "64"], widePoolEnv(poolLog)));
      await server.admin.setFaults({ rate429: 0, latencyMs: 0 });
      // The provider's client asked for a pool of 4 and got 64: the cap below is the semaphore's doing.
      expect(poolsAsked(poolLog)).toContain(4);

      const open = await server.admin.sessions({ status: "open", case_type_id: "hail_damage" });
      expect(open).toHaveLength(40);
      const counters = await server.admin.counters();
      const creates = counters.filter((c) => c.route === "POST /api/v1/sessions");
      expect(creates.find((c) => c.status === 429)?.count ?? 0).toBeGreaterThan(0);
      expect(creates.find((c) => c.status === 201)?.count).toBe(40);
      const peak = await server.admin.peakInFlight();
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(4);

      expectOk(await project.pulumi(["destroy", "--yes", "--skip-preview", "--parallel", "64"]));
      expect(await server.admin.sessions({ status: "open", case_type_id: "hail_damage" })).toEqual([]);
    } finally {
      await project.cleanup();
    }
  });

  it("keeps the provider at the default of 8 API calls in flight when klarefi:maxConcurrentRequests is not set", async () => {
    await server.admin.reset({ faults: true });
    const project = sessionsProject(24);
    try {
      expectOk(await project.pulumi(["stack", "init"]));
      expectOk(await project.pulumi(["config", "set", "--secret", "klarefi:apiKey", server.apiKey]));
      expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
      // Each create holds the server for 1 s, so 24 creates asked for at once pile up behind the cap.
      await server.admin.setFaults({ latencyMs: 1000 });
      const poolLog = path.join(project.dir, "pools.log");
      expectOk(await project.pulumi(["up", "--yes", "--skip-preview", "--parallel", "64"], widePoolEnv(poolLog)));
      await server.admin.setFaults({ latencyMs: 0 });

      expect(poolsAsked(poolLog)).toContain(8);
      expect(await server.admin.sessions({ status: "open", case_type_id: "hail_damage" })).toHaveLength(24);
      expect(await server.admin.peakInFlight()).toBe(8);
    } finally {
      await project.cleanup();
    }
  });
});
