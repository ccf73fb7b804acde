/**
 * @module
 * The package as users get it: `npm pack` on a fresh copy of the repository
 * (no dist/, so `prepack` has to build), projects outside the repository
 * that install the tarball with npm or pnpm, and `klarefi dev` started from
 * an installed package's own bin. Used by test/e2e/package.test.ts and
 * test/e2e/examples-cli.test.ts.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { z } from "zod";
import type { Session } from "../../contract/schemas";
import { AdminCounters, AdminSessionList, DEFAULT_TEST_API_KEY } from "../../server";
import { repoRoot } from "./pulumi";

/** Where the CLI built by scripts/setup.sh sits, with our language host and the dynamic-provider plugin beside it. */
export const PULUMI_BIN_DIR = path.join(repoRoot, "node_modules", ".klarefi-pulumi", "bin");

/** The pnpm the tests install projects with (from the npm registry, cached outside the repository). */
export const PNPM_VERSION = "12.21.0";

/** Cache shared with scripts/setup.sh: `KLAREFI_CACHE_DIR`, default `~/.cache/klarefi-pulumi`. */
export function klarefiCacheDir(): string {
  return process.env.KLAREFI_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "klarefi-pulumi");
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, bounded by `timeoutMs`; rejects with both streams when it exits non-zero. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; allowFailure?: boolean },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-64_000)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(" ")} could not start: ${error.message}`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      const result = { code: code ?? 1, stdout, stderr };
      const describe = `${command} ${args.join(" ")} (in ${options.cwd})`;
      if (timedOut) reject(new Error(`${describe} ran longer than ${options.timeoutMs / 1000} s and was killed.\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      else if (result.code !== 0 && !options.allowFailure) {
        reject(new Error(`${describe} exited with ${result.code}.\n--- stdout\n${stdout.slice(-3000)}\n--- stderr\n${stderr.slice(-3000)}`));
      } else resolve(result);
    });
  });
}

/**
 * The environment of commands run in users' projects: the project's own
 * Node.js (this test's, 22.19+) and the Pulumi CLI with its plugins first on
 * PATH, and nothing of the repository: its folders leave PATH and
 * NODE_PATH goes, so every module resolves from the project alone.
 */
export function userProjectEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["NODE_PATH", "NODE_OPTIONS", "KLAREFI_API_KEY", "KLAREFI_BASE_URL", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN", "PULUMI_STACK"]) {
    delete env[name];
  }
  // npm run-script sets these for the test process; a user's shell has none of them.
  for (const name of Object.keys(env)) if (name.startsWith("npm_")) delete env[name];
  const inRepo = (dir: string) => path.resolve(dir) === repoRoot || path.resolve(dir).startsWith(`${repoRoot}${path.sep}`);
  const rest = (env.PATH ?? "").split(path.delimiter).filter((dir) => dir !== "" && !inRepo(dir));
  return { ...env, ...extra, PATH: [PULUMI_BIN_DIR, path.dirname(process.execPath), ...rest].join(path.delimiter) };
}

/** `npm pack --json`: what the tests read of it. */
const PackJson = z.array(z.looseObject({ filename: z.string(), size: z.number(), unpackedSize: z.number(), files: z.array(z.looseObject({ path: z.string() })) }));

/** The packed package: its tarball and what `npm pack` put in it. */
export interface PackedPackage {
  /** Absolute path of the .tgz. */
  tarball: string;
  /** Paths inside the package (`package/` stripped), sorted. */
  files: string[];
  /** Size of the tarball in bytes. */
  size: number;
  /** The package.json inside the tarball. */
  manifest: Record<string, unknown>;
  /** Whether this call packed it (false: the cached tarball of the same sources). */
  fresh: boolean;
  /** Seconds `npm pack` (with its prepack build) took, when fresh. */
  packSeconds: number;
}

/** The repository's files as a fresh clone of the working tree has them: tracked and untracked, git-ignored ones left out. */
function workingTreeFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: repoRoot, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  return [...new Set(out.split("\0").filter((f) => f !== ""))].filter((f) => existsSync(path.join(repoRoot, f))).sort();
}

/**
 * `npm pack` of a fresh copy of the repository's working tree (no dist/, no
 * node_modules of its own: the repository's is linked in for the build
 * tools), as `git clone && npm ci && npm pack` gives it. The tarball is
 * cached in the temp folder by a hash of the copied files, so the test files
 * that need it pack once per change of the sources.
 */
export async function packRepository(): Promise<PackedPackage> {
  const files = workingTreeFiles();
  const hash = createHash("sha256");
  for (const file of files) hash.update(file).update("\0").update(readFileSync(path.join(repoRoot, file))).update("\0");
  const key = hash.digest("hex").slice(0, 16);
  const cacheRoot = path.join(tmpdir(), "klarefi-pack-cache");
  const cached = path.join(cacheRoot, key);
  const readCached = (fresh: boolean, packSeconds: number): PackedPackage => {
    const info = PackJson.parse(JSON.parse(readFileSync(path.join(cached, "pack.json"), "utf8")))[0];
    if (info === undefined) throw new Error(`npm pack --json in ${cached} listed no package.`);
    const tarball = path.join(cached, info.filename);
    const manifest = JSON.parse(readFileSync(path.join(cached, "package.json"), "utf8")) as Record<string, unknown>;
    return { tarball, files: info.files.map((f) => f.path).sort(), size: info.size, manifest, fresh, packSeconds };
  };
  if (existsSync(path.join(cached, "pack.json"))) return readCached(false, 0);

  mkdirSync(cacheRoot, { recursive: true });
  const work = mkdtempSync(path.join(cacheRoot, `tmp-${key}-`));
  try {
    const src = path.join(work, "src");
    const out = path.join(work, "out");
    mkdirSync(out, { recursive: true });
    for (const file of files) cpSync(path.join(repoRoot, file), path.join(src, file), { recursive: false, verbatimSymlinks: true });
    symlinkSync(path.join(repoRoot, "node_modules"), path.join(src, "node_modules"), "dir");
    const started = performance.now();
    const env = { ...process.env, PATH: [path.join(repoRoot, "node_modules", ".bin"), path.dirname(process.execPath), process.env.PATH ?? ""].join(path.delimiter) };
    const packed = await runCommand("npm", ["pack", "--json", "--pack-destination", out], { cwd: src, env, timeoutMs: 240_000 });
    const packSeconds = (performance.now() - started) / 1000;
    // npm prints the prepack script's output before the JSON on stdout.
    const json = packed.stdout.slice(/^\[/m.exec(packed.stdout)?.index ?? 0);
    writeFileSync(path.join(out, "pack.json"), json);
    const info = PackJson.parse(JSON.parse(json))[0];
    if (info === undefined) throw new Error("npm pack --json listed no package.");
    const manifest = await tarballManifest(path.join(out, info.filename));
    writeFileSync(path.join(out, "package.json"), manifest);
    // Older packs of other sources are of no further use.
    for (const entry of readdirSync(cacheRoot)) if (entry !== key && !entry.startsWith("tmp-")) rmSync(path.join(cacheRoot, entry), { recursive: true, force: true });
    try {
      renameSync(out, cached);
    } catch (error) {
      // Another run packed the same sources meanwhile: use theirs.
      if (!existsSync(path.join(cached, "pack.json"))) throw error;
    }
    return readCached(true, packSeconds);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** package/package.json of a tarball, as text (tar reads it; every Linux and macOS has tar). */
async function tarballManifest(tarball: string): Promise<string> {
  const result = await runCommand("tar", ["-xzOf", tarball, "package/package.json"], { cwd: path.dirname(tarball), env: process.env, timeoutMs: 30_000 });
  return result.stdout;
}

/** The pnpm binary, installed from the npm registry into the cache the first time. */
export async function pnpmBinary(): Promise<string> {
  const prefix = path.join(klarefiCacheDir(), `pnpm-${PNPM_VERSION}`);
  const bin = path.join(prefix, "node_modules", ".bin", "pnpm");
  if (existsSync(bin)) return bin;
  mkdirSync(prefix, { recursive: true });
  await runCommand("npm", ["install", "--prefix", prefix, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", `pnpm@${PNPM_VERSION}`], {
    cwd: prefix,
    env: userProjectEnv(),
    timeoutMs: 120_000,
  });
  if (!existsSync(bin)) throw new Error(`npm installed pnpm@${PNPM_VERSION} into ${prefix} but ${bin} is missing.`);
  return bin;
}

/**
 * Installs `specs` (npm package specs or tarball paths) into the project in
 * `dir`, which must hold a package.json, with npm or pnpm, preferring their
 * caches. pnpm gets a pnpm-workspace.yaml that declines protobufjs's
 * install script (as the repository's `allowScripts` does for npm): pnpm 10+
 * otherwise stops on an unapproved build.
 */
export async function installInto(dir: string, manager: "npm" | "pnpm", specs: readonly string[]): Promise<number> {
  const started = performance.now();
  const env = userProjectEnv();
  if (manager === "npm") {
    await runCommand("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...specs], { cwd: dir, env, timeoutMs: 180_000 });
  } else {
    writeFileSync(path.join(dir, "pnpm-workspace.yaml"), "allowBuilds:\n  protobufjs: false\n");
    await runCommand(await pnpmBinary(), ["add", "--prefer-offline", ...specs], { cwd: dir, env, timeoutMs: 180_000 });
  }
  return (performance.now() - started) / 1000;
}

/** A `klarefi dev` running as a child process. */
export interface DevServer {
  url: string;
  /** The API key the server accepts: its documented test key. */
  apiKey: string;
  adminKey: string;
  /** API calls served so far, summed over routes and statuses. */
  apiCalls(): Promise<number>;
  /** Sessions on the server, optionally by status. */
  sessions(status?: string): Promise<Session[]>;
  /** SIGTERM, then waits (bounded) for the process to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `<bin> dev --port 0` (say, a project's node_modules/.bin/klarefi)
 * with a database in `dbDir`, and waits (at most 30 s) for the line naming
 * its address.
 */
export async function startDevServer(bin: string, options: { cwd: string; dbDir: string; env: NodeJS.ProcessEnv }): Promise<DevServer> {
  const adminKey = "adm_test_package";
  const child = spawn(bin, ["dev", "--port", "0", "--db", path.join(options.dbDir, "klarefi.db"), "--admin-key", adminKey], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (url === undefined && child.exitCode === null && Date.now() < deadline) {
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    if (url === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  if (url === undefined) {
    await stop();
    throw new Error(`${bin} dev did not report its address within 30 s:\n${out.slice(-2000)}`);
  }
  const base = url;
  const admin = async (route: string): Promise<unknown> => {
    const res = await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${adminKey}` } });
    if (!res.ok) throw new Error(`GET ${route} answered ${res.status}: ${await res.text()}`);
    return res.json();
  };
  return {
    url: base,
    apiKey: DEFAULT_TEST_API_KEY,
    adminKey,
    apiCalls: async () => AdminCounters.parse(await admin("/_admin/counters")).counters.reduce((sum, c) => sum + c.count, 0),
    sessions: async (status) => AdminSessionList.parse(await admin(`/_admin/sessions${status === undefined ? "" : `?status=${status}`}`)).data,
    stop,
  };
}

/** The HTTP status a link answers (no redirects followed). */
export async function linkStatus(url: string): Promise<number> {
  const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
  await res.text();
  return res.status;
}
