/**
 * @module
 * vitest globalSetup: the e2e tests (and the CLI tests) run the compiled
 * package in dist/, and only `npm test`'s pretest builds it. So that
 * `npx vitest run test/e2e/...` right after editing provider/ does not test
 * old code, this rebuilds dist/ with `tsc -p tsconfig.json` whenever an output
 * is missing or older than its source, and refuses to run the tests when the
 * build leaves dist/ stale.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
/** The folders tsconfig.json compiles into dist/. */
const SOURCE_DIRS = ["contract", "client", "provider", "server", "cli", "scripts", "bench", "policy/src"];
/** Held while one vitest run rebuilds, so two runs in one checkout do not write dist/ at once. */
const LOCK = path.join(ROOT, ".klarefi", "build.lock");
const LOCK_STALE_MS = 5 * 60_000;

function sourcesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourcesUnder(full));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) files.push(full);
  }
  return files;
}

/** Sources (relative to `root`) whose dist/ output is missing or older than they are. */
export function staleOutputs(root: string = ROOT): string[] {
  const stale: string[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const source of sourcesUnder(path.join(root, dir))) {
      const relative = path.relative(root, source);
      const output = path.join(root, "dist", relative.replace(/\.ts$/, ".js"));
      if (!existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs) stale.push(relative);
    }
  }
  return stale;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `fn` holding the build lock; waits at most 3 minutes for another run's build. */
function withBuildLock<T>(fn: () => T): T {
  mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 3 * 60_000;
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      const age = existsSync(LOCK) ? Date.now() - statSync(LOCK).mtimeMs : 0;
      if (age > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline || attempt > 1800) throw new Error(`Another test run has held ${LOCK} for over 3 minutes; remove it if no build is running.`);
      else sleep(100);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export default function setup(): void {
  if (staleOutputs().length === 0) return;
  withBuildLock(() => {
    // A source saved while tsc runs is newer than its fresh output: build again, at most three times.
    let tsc: ReturnType<typeof spawnSync> | undefined;
    for (let build = 1; build <= 3; build++) {
      const stale = staleOutputs(); // another run may have built meanwhile
      if (stale.length === 0) break;
      process.stderr.write(`dist/ is older than ${stale.length} source file(s) (${stale.slice(0, 3).join(", ")}${stale.length > 3 ? ", ..." : ""}); rebuilding with tsc -p tsconfig.json\n`);
      tsc = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(ROOT, "tsconfig.json")], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 180_000,
      });
    }
    const said = `${String(tsc?.stdout ?? "")}${String(tsc?.stderr ?? "")}`;
    // tsc writes dist/ even when a file elsewhere fails to type-check; what matters is that dist/ is current.
    const left = staleOutputs();
    if (left.length > 0) {
      throw new Error(
        `dist/ is still older than ${left.length} source file(s) (${left.slice(0, 5).join(", ")}) after tsc -p tsconfig.json ` +
          `(exit ${String(tsc?.status)}); the tests would run old code. tsc said:\n${said.slice(-3000)}`,
      );
    }
    if (tsc !== undefined && tsc.status !== 0) process.stderr.write(`tsc reported errors but wrote dist/:\n${said.slice(-1500)}\n`);
  });
}
