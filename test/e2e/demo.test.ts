import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { randomStackName, repoRoot } from "../helpers/pulumi";

// `npm run demo` as a user runs it (after setup): the built script, the real
// pulumi CLI, the in-process local server; only the folders are temporary.

const demoScript = path.join(repoRoot, "dist", "scripts", "demo.js");
const DEMO_TIMEOUT_MS = 150_000;

function runDemo(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [demoScript, ...args], {
      cwd: repoRoot,
      env: { ...process.env, PATH: `${path.join(repoRoot, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the demo ran longer than ${DEMO_TIMEOUT_MS / 1000} s and was killed.\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
    }, DEMO_TIMEOUT_MS);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Whether anything accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Processes (other than this one) whose environment mentions `needle`: pulumi, its plugins, the program. */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "utf8");
    } catch {
      continue; // gone meanwhile, or not ours
    }
    if (environ.includes(needle)) {
      let cmdline = "";
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      } catch {
        // gone meanwhile
      }
      found.push(`${pid}: ${cmdline}`);
    }
  }
  return found;
}

describe("npm run demo", () => {
  it(
    "provisions the campaign, shows a link answering 200 then 410 after destroy, removes the stack and leaves nothing running",
    async () => {
      expect(existsSync(demoScript), `${demoScript} is missing: run npm run build`).toBe(true);
      const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-demo-"));
      const stateDir = path.join(scratch, "state");
      const stack = randomStackName("demo");
      try {
        const result = await runDemo(["--port", "0", "--state-dir", stateDir, "--db", scratch, "--stack", stack]);
        expect(result.code, `demo failed:\n${result.stdout.slice(-3000)}\n${result.stderr}`).toBe(0);
        const out = result.stdout;

        const serverLine = /Local Klarefi server on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        expect(serverLine, "the demo prints where the server listens").not.toBeNull();
        const port = Number(serverLine?.[1]);

        // the link table: every row of the example, signatures masked
        const rows = readFileSync(path.join(repoRoot, "examples", "campaign", "applicants.csv"), "utf8").trim().split("\n").length - 1;
        const tableRows = out.split("\n").filter((line) => /^\s+hail_2026_\d+\s+ses_[a-z2-7]{24}\s+http:\/\//.test(line));
        expect(tableRows).toHaveLength(rows);
        expect(tableRows.every((line) => /sig=[0-9a-f]{8}…$/.test(line))).toBe(true);
        expect(out + result.stderr).not.toMatch(/sig=[0-9a-f]{64}/);

        expect(out).toMatch(/^Before destroy: GET http:\/\/127\.0\.0\.1:\d+\/i\/ses_\S+ -> 200 OK "Klarefi intake: hail_damage"$/m);
        expect(out).toMatch(/^After destroy: GET http:\/\/127\.0\.0\.1:\d+\/i\/ses_\S+ -> 410 Gone "Klarefi intake: This link was revoked"$/m);
        const opened = [...out.matchAll(/^(?:Before|After) destroy: GET (\S+) ->/gm)].map((m) => m[1]);
        expect(opened).toHaveLength(2);
        expect(opened[0]).toBe(opened[1]); // the same link, before and after

        // the stack is gone from the backend, and the example folder is as committed
        const stacksDir = path.join(stateDir, ".pulumi", "stacks", "klarefi-hail-campaign");
        const left = existsSync(stacksDir) ? readdirSync(stacksDir).filter((f) => f === `${stack}.json` || f === `${stack}.json.gz`) : [];
        expect(left).toEqual([]);
        expect(existsSync(path.join(repoRoot, "examples", "campaign", `Pulumi.${stack}.yaml`))).toBe(false);
        expect(existsSync(path.join(stateDir, `Pulumi.${stack}.yaml`))).toBe(false);

        // nothing is left running: not the server, not pulumi or its plugins
        expect(await listening(port)).toBe(false);
        expect(processesMentioning(`file://${stateDir}`)).toEqual([]);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    DEMO_TIMEOUT_MS + 30_000,
  );

  it(
    "keeps the stack and full links up until Ctrl+C with --keep, then --down on another port revokes them and removes the stack",
    async () => {
      const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-demo-"));
      const stateDir = path.join(scratch, "state");
      const stack = randomStackName("keep");
      const common = ["--port", "0", "--state-dir", stateDir, "--db", scratch, "--stack", stack];
      let child: ReturnType<typeof spawn> | undefined;
      try {
        child = spawn(process.execPath, [demoScript, "--keep", ...common], {
          cwd: repoRoot,
          env: { ...process.env, PATH: `${path.join(repoRoot, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}` },
          stdio: ["ignore", "pipe", "pipe"],
        });
        const running = child;
        let out = "";
        let err = "";
        running.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
        running.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
        const exited = new Promise<number | null>((resolve) => running.once("close", (code) => resolve(code)));

        // wait (bounded) for the demo to say it is serving
        const deadline = Date.now() + DEMO_TIMEOUT_MS;
        while (!out.includes("Press Ctrl+C") && running.exitCode === null && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(out, `the kept demo never got ready:\n${out.slice(-2000)}\n${err}`).toContain("Press Ctrl+C");

        // full links this time, and they work while the demo runs
        const links = [...out.matchAll(/^\s+hail_2026_\d+\s+ses_[a-z2-7]{24}\s+(http:\/\/\S+sig=[0-9a-f]{64})$/gm)].map((m) => m[1] ?? "");
        const rows = readFileSync(path.join(repoRoot, "examples", "campaign", "applicants.csv"), "utf8").trim().split("\n").length - 1;
        expect(links).toHaveLength(rows);
        const res = await fetch(links[1] ?? "");
        expect(res.status).toBe(200);
        await res.text();

        running.kill("SIGINT");
        expect(await exited).toBe(0);
        const port = Number(new URL(links[1] ?? "").port);
        expect(await listening(port)).toBe(false);
        expect(existsSync(path.join(stateDir, `Pulumi.${stack}.yaml`)), "the kept stack's config").toBe(true);

        // --down, on a fresh free port: the links are revoked and the stack is gone
        const down = await runDemo(["--down", ...common]);
        expect(down.code, `demo --down failed:\n${down.stdout.slice(-3000)}\n${down.stderr}`).toBe(0);
        expect(down.stdout).toMatch(/^After destroy: GET http:\/\/127\.0\.0\.1:\d+\/i\/ses_\S+ -> 410 Gone/m);
        expect(existsSync(path.join(stateDir, `Pulumi.${stack}.yaml`))).toBe(false);
        const again = await runDemo(["--down", ...common]);
        expect(again.code).toBe(0);
        expect(again.stdout).toContain(`No stack ${stack}`);
        expect(processesMentioning(`file://${stateDir}`)).toEqual([]);
      } finally {
        if (child && child.exitCode === null) child.kill("SIGKILL");
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    2 * DEMO_TIMEOUT_MS,
  );

  it(
    "stops a running pulumi up on SIGTERM, exits 130 saying what was left, and leaves no process behind",
    async () => {
      const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-demo-"));
      const stateDir = path.join(scratch, "state");
      const stack = randomStackName("term");
      const common = ["--port", "0", "--state-dir", stateDir, "--db", scratch, "--stack", stack];
      let child: ReturnType<typeof spawn> | undefined;
      try {
        child = spawn(process.execPath, [demoScript, ...common], {
          cwd: repoRoot,
          env: { ...process.env, PATH: `${path.join(repoRoot, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}` },
          stdio: ["ignore", "pipe", "pipe"],
        });
        const running = child;
        let out = "";
        let err = "";
        running.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
        running.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
        const exited = new Promise<number | null>((resolve) => running.once("close", (code) => resolve(code)));

        // SIGTERM once pulumi up shows its own display, so the CLI is running (bounded wait)
        const deadline = Date.now() + DEMO_TIMEOUT_MS;
        const upRunning = /^(Previewing update|Updating) \(/m;
        while (!upRunning.test(out) && running.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(out, `pulumi up never started:\n${out.slice(-2000)}\n${err}`).toMatch(upRunning);
        running.kill("SIGTERM");
        expect(await exited).toBe(130);
        expect(err.trim().split("\n").pop()).toBe(
          "demo: Interrupted. The stack is left as it is: run the demo again, or take it down with `npm run demo:down` with the same --state-dir, --db and --port.",
        );
        // pulumi and its plugins go with it (bounded: they may take a moment after the CLI exits)
        const gone = Date.now() + 15_000;
        while (processesMentioning(`file://${stateDir}`).length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 200));
        expect(processesMentioning(`file://${stateDir}`)).toEqual([]);

        const down = await runDemo(["--down", ...common]);
        expect(down.code, `demo --down failed:\n${down.stdout.slice(-3000)}\n${down.stderr}`).toBe(0);
      } finally {
        if (child && child.exitCode === null) child.kill("SIGKILL");
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    2 * DEMO_TIMEOUT_MS,
  );

  it("exits non-zero with one line naming the port when the port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const address = blocker.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-demo-"));
    try {
      const result = await runDemo(["--port", String(port), "--state-dir", path.join(scratch, "state"), "--db", scratch]);
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(`demo: Port ${port} is in use; stop what listens there or pass --port <n> (npm run demo -- --port 4020).`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
