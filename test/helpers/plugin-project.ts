/**
 * @module
 * Project folders that use the provider plugin `pulumi-resource-klarefi`
 * (bin/) instead of the dynamic provider: a Node.js program registering
 * `klarefi:index:*` resources by type token (what a generated SDK does), or a
 * Pulumi YAML program. Every project names the plugin's folder in its
 * `Pulumi.yaml` (`plugins.providers`), the documented way to use a local
 * plugin: found without downloads, and without the engine's warning about a
 * plugin taken from $PATH.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type CliProject, cliProject, expectOk } from "./cli-project";
import { repoRoot } from "./pulumi";

/** The `plugins` section that points the engine at this checkout's plugin. */
export function pluginSection(pluginDir: string = path.join(repoRoot, "bin")): string {
  return `plugins:\n  providers:\n    - name: klarefi\n      path: ${pluginDir}\n`;
}

/**
 * A Node.js program that registers one plugin `IntakeSession` per entry of
 * `sessions.json` (name → inputs) in its folder, and exports their session
 * ids as `ids`. Tests rewrite `sessions.json` between runs.
 */
const SESSIONS_PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const fs = require("node:fs");
const path = require("node:path");
const sessions = JSON.parse(fs.readFileSync(path.join(__dirname, "sessions.json"), "utf8"));
const ids = {};
for (const [name, inputs] of Object.entries(sessions)) {
  const s = new pulumi.CustomResource("klarefi:index:IntakeSession", name, { ...inputs, sessionId: undefined, status: undefined, signedUrl: undefined });
  ids[name] = s.sessionId;
}
exports.ids = ids;
`;

export interface SessionsProject extends CliProject {
  /** Writes `sessions.json`: the program's sessions by resource name. */
  setSessions(sessions: Record<string, Record<string, string>>): void;
}

/** A Node.js project of plugin sessions (see SESSIONS_PROGRAM). */
export function pluginSessionsProject(name: string, extraEnv: Record<string, string> = {}): SessionsProject {
  const project = cliProject(name, SESSIONS_PROGRAM, extraEnv);
  writeFileSync(path.join(project.dir, "Pulumi.yaml"), readFileSync(path.join(project.dir, "Pulumi.yaml"), "utf8") + pluginSection());
  const setSessions = (sessions: Record<string, Record<string, string>>) =>
    writeFileSync(path.join(project.dir, "sessions.json"), JSON.stringify(sessions, null, 2));
  setSessions({});
  return { ...project, setSessions };
}

/** A Pulumi YAML project: `program` is the Pulumi.yaml after its name and runtime (resources, outputs, …). */
export function yamlProject(name: string, program: string, extraEnv: Record<string, string> = {}): CliProject {
  const project = cliProject(name, "", extraEnv);
  writeFileSync(path.join(project.dir, "Pulumi.yaml"), `name: ${name}\nruntime: yaml\n${program}\n${pluginSection()}`);
  return project;
}

/**
 * `pulumi stack init` and the stack config that points the provider at a
 * local server; `plaintextKey` stores the key without `--secret`, as a
 * careless user would.
 */
export async function initStack(project: CliProject, server: { url: string; apiKey: string }, options: { plaintextKey?: boolean } = {}): Promise<void> {
  expectOk(await project.pulumi(["stack", "init"]));
  expectOk(await project.pulumi(["config", "set", ...(options.plaintextKey ? [] : ["--secret"]), "klarefi:apiKey", server.apiKey]));
  expectOk(await project.pulumi(["config", "set", "klarefi:baseUrl", server.url]));
}

/** One resource of `pulumi stack export` (secrets stay encrypted). */
export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/** The stack's resources, and the export's raw text (to look for plaintext secrets in it). */
export async function exportedState(project: CliProject): Promise<{ resources: StateResource[]; text: string }> {
  const result = await project.pulumi(["stack", "export"]);
  expectOk(result);
  const text = result.output.slice(0, result.output.lastIndexOf("}") + 1);
  const parsed = JSON.parse(text) as { deployment: { resources?: StateResource[] } };
  return { resources: parsed.deployment.resources ?? [], text };
}

/** The state of the resource named `name` of type `type`. */
export function resourceNamed(resources: StateResource[], type: string, name: string): StateResource {
  const found = resources.find((r) => r.type === type && r.urn.endsWith(`::${name}`));
  if (!found) throw new Error(`No ${type} named ${name} in the state (resources: ${resources.map((r) => r.urn).join(", ")}).`);
  return found;
}

/** Runs the `klarefi` CLI of this checkout against a server; resolves with its stdout, rejects with its stderr. */
export function klarefiCli(args: string[], server: { url: string; apiKey: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(repoRoot, "bin", "klarefi.js"), ...args],
      { env: { ...process.env, KLAREFI_API_KEY: server.apiKey, KLAREFI_BASE_URL: server.url }, encoding: "utf8", timeout: 30_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`klarefi ${args.join(" ")} failed: ${stderr}`)) : resolve(stdout)),
    );
  });
}
