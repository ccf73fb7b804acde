import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PulumiCliError, PulumiCliStack, runPulumi } from "../../scripts/pulumi-cli";

// scripts/pulumi-cli.ts against a stand-in `pulumi` (a Node script) that
// logs its arguments and stdin, so what the module sends and how it treats
// exits, signals and timeouts is visible without the real engine.

const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-pulumi-cli-"));
const fake = path.join(scratch, "pulumi");
const log = path.join(scratch, "calls.jsonl");
writeFileSync(
  fake,
  `#!${process.execPath}
const fs = require("node:fs");
const args = process.argv.slice(2);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({ args, input, cwd: process.cwd() }) + "\\n");
  if (args[0] === "stack" && args[1] === "init") fs.writeFileSync("Pulumi." + args[2] + ".yaml", "encryptionsalt: v1:salt\\n");
  if (args[0] === "stack" && args[1] === "ls") process.stdout.write(JSON.stringify([{ name: "org/other" }, { name: "org/demo" }]));
  if (args[0] === "fail") {
    process.stderr.write("first line\\nerror: the last line\\n\\n");
    process.exit(3);
  }
  if (args[0] === "sleep") {
    process.on("SIGTERM", () => {
      fs.writeFileSync(process.env.FAKE_LOG + ".term", "cancelled");
      process.exit(143);
    });
    setInterval(() => {}, 1000);
  }
});
`,
);
chmodSync(fake, 0o755);
const env = { ...process.env, FAKE_LOG: log };

function calls(): { args: string[]; input: string; cwd: string }[] {
  return existsSync(log)
    ? readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { args: string[]; input: string; cwd: string })
    : [];
}

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("scripts/pulumi-cli.ts", () => {
  it("keeps the stack file of `stack init` out of the project folder and sends config values through stdin, never as arguments", async () => {
    rmSync(log, { force: true });
    const project = path.join(scratch, "project");
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, "Pulumi.yaml"), "name: p\nruntime: nodejs\n");
    const configFile = path.join(scratch, "state", "Pulumi.demo.yaml");
    const stack = new PulumiCliStack({ projectDir: project, stack: "demo", env, configFile, command: fake });

    await stack.init();
    expect(readdirSync(project)).toEqual(["Pulumi.yaml"]);
    expect(readFileSync(configFile, "utf8")).toBe("encryptionsalt: v1:salt\n");

    await stack.setConfig("klarefi:apiKey", "sk_test_value_from_stdin", { secret: true });
    await stack.up();
    expect(await stack.exists()).toBe(true);
    const [init, set, up] = calls();
    expect(init?.args).toEqual(["stack", "init", "demo", "--secrets-provider", "passphrase", "--non-interactive"]);
    expect(set?.args).toEqual(["config", "set", "--stack", "demo", "--config-file", configFile, "--secret", "klarefi:apiKey"]);
    expect(set?.input).toBe("sk_test_value_from_stdin");
    expect(up?.args).toEqual(["up", "--yes", "--non-interactive", "--skip-preview", "--stack", "demo", "--config-file", configFile]);
    expect(calls().every((c) => c.cwd === project)).toBe(true);
  });

  it("refuses to init over a stack file already in the project folder", async () => {
    const project = path.join(scratch, "taken");
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, "Pulumi.demo.yaml"), "mine\n");
    const stack = new PulumiCliStack({ projectDir: project, stack: "demo", env, configFile: path.join(scratch, "elsewhere.yaml"), command: fake });
    await expect(stack.init()).rejects.toThrow(`${path.join(project, "Pulumi.demo.yaml")} already exists`);
    expect(readFileSync(path.join(project, "Pulumi.demo.yaml"), "utf8")).toBe("mine\n");
  });

  it("resolves a failed run from runPulumi, and rejects it from a stack with the exit code and Pulumi's last error line", async () => {
    const result = await runPulumi(["fail"], { cwd: scratch, env, command: fake });
    expect(result.code).toBe(3);
    const stack = new PulumiCliStack({ projectDir: scratch, stack: "demo", env, command: fake });
    const error = await stack.run(["fail"]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PulumiCliError);
    expect((error as PulumiCliError).reason).toBe("exit");
    expect((error as PulumiCliError).code).toBe(3);
    expect((error as PulumiCliError).lastLine).toBe("error: the last line");
    expect((error as PulumiCliError).message).toContain("pulumi fail exited with code 3.");
  });

  it("names a missing CLI as not found", async () => {
    const error = await runPulumi(["version"], { cwd: scratch, env, command: path.join(scratch, "no-such-pulumi") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PulumiCliError);
    expect((error as PulumiCliError).reason).toBe("not-found");
    expect((error as PulumiCliError).message).toBe(`The Pulumi CLI (${path.join(scratch, "no-such-pulumi")}) was not found.`);
  });

  it("on abort sends SIGTERM, waits for the CLI to exit, then rejects as aborted", async () => {
    rmSync(`${log}.term`, { force: true });
    const controller = new AbortController();
    const running = runPulumi(["sleep"], { cwd: scratch, env, command: fake, signal: controller.signal });
    // abort once the stand-in has logged its start (bounded: 10 s)
    const started = Date.now();
    while (!calls().some((c) => c.args[0] === "sleep") && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    const error = await running.catch((e: unknown) => e);
    expect((error as PulumiCliError).reason).toBe("aborted");
    expect(readFileSync(`${log}.term`, "utf8")).toBe("cancelled");
  });

  it("kills a run that outlives its timeout", async () => {
    const started = Date.now();
    const error = await runPulumi(["sleep"], { cwd: scratch, env, command: fake, timeoutMs: 500 }).catch((e: unknown) => e);
    expect((error as PulumiCliError).reason).toBe("timeout");
    expect((error as PulumiCliError).message).toContain("ran longer than 500 ms and was killed");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
