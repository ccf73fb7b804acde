/**
 * `npm run demo`: the whole life of an intake campaign on this machine, with
 * nothing to install or sign up for. It starts the local Klarefi server in
 * this process, runs the real `pulumi` CLI on `examples/campaign` against a
 * local file backend, prints the provisioned links, opens one (200, the
 * intake page), destroys the stack, opens it again (410, revoked), removes
 * the stack and stops the server.
 *
 *   npm run demo                  the full round trip; signatures masked
 *   npm run demo -- --keep        (or `npm run demo:up`) leaves the stack up and the
 *                                 server running until Ctrl+C, printing full links
 *   npm run demo:down             restarts the server on the same database and port,
 *                                 destroys the kept stack and removes it
 *
 * State: the file backend, the stack's config file and PULUMI_HOME live in
 * `.pulumi-state/`, the server's database in `.klarefi/demo.db` (both
 * git-ignored), so a kept stack and its links survive a restart. The stack's
 * secrets are encrypted with the documented passphrase DEMO_PASSPHRASE.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { DEFAULT_TEST_API_KEY, startKlarefiServer, type RunningKlarefiServer } from "../server";
import { offlinePulumiEnv } from "./pulumi-env";

/** The repository root (this file runs as dist/scripts/demo.js). */
const repoRoot = path.resolve(__dirname, "..", "..");

/** The passphrase of the demo stack's secrets. Documented, not a secret: the stack only ever talks to the local server. */
export const DEMO_PASSPHRASE = "klarefi-demo-passphrase";
/** The Pulumi program the demo runs. */
export const DEMO_PROGRAM_DIR = path.join(repoRoot, "examples", "campaign");

export const DEMO_USAGE = `Usage: node dist/scripts/demo.js [options]   (npm run demo -- [options])

  --keep              leave the stack up and the server running until Ctrl+C; prints full links
  --down              restart the server on the same database and port, destroy the kept stack, remove it
  --port <n>          port of the local Klarefi server (default 4010; 0 picks a free one)
  --state-dir <dir>   Pulumi file backend, stack config and PULUMI_HOME (default .pulumi-state)
  --db <path>         the server's SQLite file, or a folder to hold demo.db (default .klarefi/demo.db)
  --stack <name>      stack name (default demo)
  --help              this text`;

/** Raised by a demo step that failed; its message is the one line the user sees. */
export class DemoError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "DemoError";
  }
}

export interface DemoOptions {
  mode: "roundtrip" | "keep" | "down";
  port: number;
  stateDir: string;
  dbPath: string;
  stack: string;
}

/** Reads the command line; relative paths resolve against the working directory. Throws DemoError on bad flags. */
export function parseDemoArgs(argv: readonly string[], cwd = process.cwd()): DemoOptions | "help" {
  const read = () =>
    parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        keep: { type: "boolean" },
        down: { type: "boolean" },
        port: { type: "string" },
        "state-dir": { type: "string" },
        db: { type: "string" },
        stack: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  let values: ReturnType<typeof read>;
  try {
    values = read();
  } catch (error) {
    throw new DemoError(`${error instanceof Error ? error.message : String(error)} (see --help).`, 2);
  }
  if (values.help) return "help";
  if (values.keep && values.down) throw new DemoError("--keep and --down cannot be combined.", 2);
  const port = values.port === undefined ? 4010 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DemoError(`--port must be a whole number from 0 to 65535; got "${values.port}".`, 2);
  }
  const stack = values.stack ?? "demo";
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(stack)) throw new DemoError(`--stack must be letters, digits, "-", "_" or "."; got "${stack}".`, 2);
  let dbPath = path.resolve(cwd, values.db ?? path.join(repoRoot, ".klarefi", "demo.db"));
  if (existsSync(dbPath) && statSync(dbPath).isDirectory()) dbPath = path.join(dbPath, "demo.db");
  return {
    mode: values.keep ? "keep" : values.down ? "down" : "roundtrip",
    port,
    stateDir: path.resolve(cwd, values["state-dir"] ?? path.join(repoRoot, ".pulumi-state")),
    dbPath,
    stack,
  };
}

/** A signed URL with its `sig` value cut to the first 8 characters and `…`, for printing. */
export function maskSignedUrl(signedUrl: string): string {
  let url: URL;
  try {
    url = new URL(signedUrl);
  } catch {
    return "(not a URL)";
  }
  const sig = url.searchParams.get("sig");
  if (sig === null) return signedUrl;
  const masked = `${sig.slice(0, 8)}…`;
  return signedUrl.replace(`sig=${sig}`, `sig=${masked}`);
}

/** The `<title>` of an HTML page, or "" when there is none. */
export function pageTitle(html: string): string {
  const match = /<title>([^<]*)<\/title>/i.exec(html);
  return (match?.[1] ?? "").replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).trim();
}

/** The stack outputs the demo reads: `pulumi stack output --json --show-secrets`. */
export const DemoStackOutputs = z.object({
  links: z.record(z.string(), z.object({ sessionId: z.string(), signedUrl: z.string() })),
  size: z.number(),
});
export type DemoStackOutputs = z.infer<typeof DemoStackOutputs>;

/** Rows of the case → link table, sorted by case, with links masked unless `full`. */
export function linkTable(links: DemoStackOutputs["links"], full: boolean): string {
  const rows = Object.entries(links)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([caseId, link]) => [caseId, link.sessionId, full ? link.signedUrl : maskSignedUrl(link.signedUrl)] as const);
  const header = ["external_case_id", "session_id", full ? "signed_url" : "signed_url (sig masked)"] as const;
  const widths = [0, 1].map((i) => Math.max(header[i]?.length ?? 0, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (r: readonly string[]) => `  ${(r[0] ?? "").padEnd(widths[0] ?? 0)}  ${(r[1] ?? "").padEnd(widths[1] ?? 0)}  ${r[2] ?? ""}`;
  return [line(header), ...rows.map(line)].join("\n");
}

// ---------------------------------------------------------------------------
// Running pulumi

interface PulumiContext {
  env: NodeJS.ProcessEnv;
  configFile: string;
  stack: string;
}

/** The environment of every `pulumi` the demo runs: offline, local, the demo passphrase. */
function pulumiEnv(stateDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The demo decides where state lives and how it is encrypted; a user's own settings must not leak in.
  for (const name of ["PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN", "PULUMI_STACK", "KLAREFI_API_KEY", "KLAREFI_BASE_URL"]) delete env[name];
  return {
    ...env,
    PATH: `${path.join(repoRoot, "node_modules", ".bin")}${path.delimiter}${env.PATH ?? ""}`,
    ...offlinePulumiEnv({ backendDir: stateDir, pulumiHome: path.join(stateDir, "home"), passphrase: DEMO_PASSPHRASE }),
  };
}

const running = new Set<ChildProcess>();

/**
 * Runs `pulumi` in the campaign folder. `inherit` shows Pulumi's own display;
 * otherwise stdout is captured (and stdin gets `input`). Resolves with the
 * exit code; the event loop stays free for the in-process server meanwhile.
 */
function runPulumi(
  args: readonly string[],
  ctx: { env: NodeJS.ProcessEnv },
  io: { inherit: true } | { inherit: false; input?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", [...args], {
      cwd: DEMO_PROGRAM_DIR,
      env: ctx.env,
      stdio: io.inherit ? ["inherit", "inherit", "inherit"] : ["pipe", "pipe", "pipe"],
    });
    running.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4000)));
    if (!io.inherit) child.stdin?.end(io.input ?? "");
    child.once("error", (error: NodeJS.ErrnoException) => {
      running.delete(child);
      reject(
        new DemoError(
          error.code === "ENOENT"
            ? "The pulumi CLI was not found; run `npm run setup` (it installs or builds it into node_modules/.bin)."
            : `Starting pulumi failed: ${error.message}.`,
        ),
      );
    });
    child.once("close", (code, signal) => {
      running.delete(child);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** Runs a quiet pulumi command and fails with its last stderr line. */
async function pulumiQuiet(step: string, args: readonly string[], ctx: PulumiContext, input?: string): Promise<string> {
  const result = await runPulumi(args, ctx, { inherit: false, input });
  checkInterrupted();
  if (result.code !== 0) {
    const last = result.stderr.trim().split("\n").filter(Boolean).pop() ?? "no error output";
    throw new DemoError(`${step} failed (pulumi exit code ${result.code}): ${last}`);
  }
  return result.stdout;
}

/** Runs a pulumi command with its display on the terminal. */
async function pulumiShown(step: string, args: readonly string[], ctx: PulumiContext): Promise<void> {
  const result = await runPulumi(args, ctx, { inherit: true });
  checkInterrupted();
  if (result.code !== 0) throw new DemoError(`${step} failed (pulumi exit code ${result.code}); see Pulumi's output above.`);
}

async function stackExists(ctx: PulumiContext): Promise<boolean> {
  const out = await pulumiQuiet("Listing the stacks (pulumi stack ls)", ["stack", "ls", "--json"], ctx);
  const stacks = z.array(z.object({ name: z.string() })).safeParse(safeJson(out));
  if (!stacks.success) throw new DemoError("pulumi stack ls --json answered something that is not a list of stacks.");
  return stacks.data.some((s) => s.name === ctx.stack || s.name.endsWith(`/${ctx.stack}`));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Creates the stack (unless it exists) with its config file in the state
 * folder rather than in examples/campaign, so the committed example stays
 * untouched, then points it at the local server.
 */
async function prepareStack(ctx: PulumiContext, server: RunningKlarefiServer): Promise<void> {
  if (await stackExists(ctx)) {
    if (!existsSync(ctx.configFile)) {
      throw new DemoError(
        `Stack ${ctx.stack} exists but its config file ${ctx.configFile} is missing; remove ${path.dirname(ctx.configFile)} to start over.`,
      );
    }
    say(`Reusing stack ${ctx.stack} from ${path.dirname(ctx.configFile)}.`);
  } else {
    const projectStackFile = path.join(DEMO_PROGRAM_DIR, `Pulumi.${ctx.stack}.yaml`);
    if (existsSync(projectStackFile)) {
      throw new DemoError(`${projectStackFile} already exists; move it away or pass --stack <another name>.`);
    }
    rmSync(ctx.configFile, { force: true });
    await pulumiQuiet("Creating the stack (pulumi stack init)", ["stack", "init", ctx.stack, "--secrets-provider", "passphrase", "--non-interactive"], ctx);
    // `stack init` writes the passphrase salt next to Pulumi.yaml; keep it with the state instead.
    if (existsSync(projectStackFile)) renameSync(projectStackFile, ctx.configFile);
    say(`Created stack ${ctx.stack} (file backend ${path.dirname(ctx.configFile)}).`);
  }
  const scope = ["--stack", ctx.stack, "--config-file", ctx.configFile];
  await pulumiQuiet("Setting klarefi:baseUrl", ["config", "set", ...scope, "klarefi:baseUrl", server.url], ctx);
  // The key goes through stdin so it never shows in a process listing.
  await pulumiQuiet("Setting klarefi:apiKey", ["config", "set", ...scope, "--secret", "klarefi:apiKey"], ctx, DEFAULT_TEST_API_KEY);
  say(`Stack config: klarefi:baseUrl = ${server.url}, klarefi:apiKey = [secret] (the local server's documented test key).`);
}

async function stackOutputs(ctx: PulumiContext): Promise<DemoStackOutputs> {
  const out = await pulumiQuiet("Reading the stack outputs", ["stack", "output", "--stack", ctx.stack, "--json", "--show-secrets"], ctx);
  const parsed = DemoStackOutputs.safeParse(safeJson(out));
  if (!parsed.success) throw new DemoError("The stack outputs have no links/size in the expected shape.");
  return parsed.data;
}

async function removeStack(ctx: PulumiContext): Promise<void> {
  await pulumiQuiet("Removing the stack (pulumi stack rm)", ["stack", "rm", "--stack", ctx.stack, "--yes"], ctx);
  stackTouched = false;
  rmSync(ctx.configFile, { force: true });
  say(`Removed stack ${ctx.stack}.`);
}

// ---------------------------------------------------------------------------
// The hosted page

async function openLink(signedUrl: string): Promise<{ status: number; statusText: string; title: string }> {
  let res: Response;
  try {
    res = await fetch(signedUrl, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new DemoError(`Opening ${maskSignedUrl(signedUrl)} failed: ${error instanceof Error ? error.message : String(error)}.`);
  }
  const html = await res.text();
  return { status: res.status, statusText: res.statusText, title: pageTitle(html) };
}

/** The same link on the running server: the signature covers the session and expiry, not the host. */
function onServer(signedUrl: string, server: RunningKlarefiServer): string {
  const url = new URL(signedUrl);
  return `${server.url}${url.pathname}${url.search}`;
}

async function showLink(label: string, signedUrl: string, expected: number): Promise<void> {
  const page = await openLink(signedUrl);
  say(`${label}: GET ${maskSignedUrl(signedUrl)} -> ${page.status} ${page.statusText} "${page.title}"`);
  if (page.status !== expected) throw new DemoError(`${label} answered ${page.status}, expected ${expected}.`);
}

// ---------------------------------------------------------------------------
// Signals and output

let interrupted = false;
/** Set once the demo starts changing the stack, so a failure can say what was left behind. */
let stackTouched = false;

function checkInterrupted(): void {
  if (interrupted) throw new DemoError("Interrupted.", 130);
}

function say(line = ""): void {
  process.stdout.write(`${line}\n`);
}

function step(title: string): void {
  say();
  say(`== ${title}`);
}

/**
 * Ctrl+C reaches the whole foreground process group, so a running `pulumi`
 * gets it too and cancels on its own (a second Ctrl+C forces it). The demo
 * only notes it and stops after the current step; SIGTERM is forwarded.
 */
function installSignalHandlers(onSignal: () => void): () => void {
  const onInt = () => {
    interrupted = true;
    onSignal();
  };
  const onTerm = () => {
    interrupted = true;
    for (const child of running) child.kill("SIGTERM");
    onSignal();
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return () => {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  };
}

// ---------------------------------------------------------------------------
// The three variants

async function startServer(options: DemoOptions): Promise<RunningKlarefiServer> {
  mkdirSync(path.dirname(options.dbPath), { recursive: true });
  try {
    return await startKlarefiServer({ port: options.port, dbPath: options.dbPath });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      throw new DemoError(`Port ${options.port} is in use; stop what listens there or pass --port <n> (npm run demo -- --port 4020).`);
    }
    throw new DemoError(`Starting the local Klarefi server failed: ${error instanceof Error ? error.message : String(error)}.`);
  }
}

async function roundTrip(ctx: PulumiContext, server: RunningKlarefiServer, keep: boolean): Promise<void> {
  step("pulumi up: one intake link per row of examples/campaign/applicants.csv");
  await prepareStack(ctx, server);
  const scope = ["--stack", ctx.stack, "--config-file", ctx.configFile];
  stackTouched = true;
  await pulumiShown("pulumi up", ["up", "--yes", ...scope], ctx);

  const outputs = await stackOutputs(ctx);
  const cases = Object.keys(outputs.links).sort();
  const firstCase = cases[0];
  const first = firstCase === undefined ? undefined : outputs.links[firstCase];
  if (first === undefined) throw new DemoError("The stack has no links; is applicants.csv empty?");
  step(`${outputs.size} links (stack output \`links\`, a secret)`);
  say(linkTable(outputs.links, keep));

  step(`Opening the link of ${firstCase}`);
  await showLink(keep ? "Link check" : "Before destroy", first.signedUrl, 200);

  if (keep) {
    say();
    say(`The stack stays up and the server keeps running at ${server.url}: open any link above in a browser.`);
    say("Press Ctrl+C to stop the server; the links work again after `npm run demo:up`, `npm run demo:down` revokes them.");
    say("Pulumi by hand, in another shell:");
    say(`  export PATH=${path.join(repoRoot, "node_modules", ".bin")}:$PATH PULUMI_BACKEND_URL=${ctx.env.PULUMI_BACKEND_URL} \\`);
    say(`    PULUMI_CONFIG_PASSPHRASE=${DEMO_PASSPHRASE} PULUMI_HOME=${ctx.env.PULUMI_HOME}`);
    say(`  pulumi -C ${DEMO_PROGRAM_DIR} stack output -s ${ctx.stack} --show-secrets links`);
    say(`  pulumi -C ${DEMO_PROGRAM_DIR} preview -s ${ctx.stack} --config-file ${ctx.configFile}`);
    await new Promise<void>((resolve) => {
      const uninstall = installSignalHandlers(() => {
        uninstall();
        resolve();
      });
    });
    interrupted = false;
    say();
    say("Stopping the local Klarefi server; the stack is kept.");
    return;
  }

  step("pulumi destroy: revokes every link");
  await pulumiShown("pulumi destroy", ["destroy", "--yes", ...scope], ctx);
  step(`Opening the same link of ${firstCase} again`);
  await showLink("After destroy", first.signedUrl, 410);
  await removeStack(ctx);
}

async function down(ctx: PulumiContext, server: RunningKlarefiServer): Promise<void> {
  if (!(await stackExists(ctx))) {
    say(`No stack ${ctx.stack} in ${path.dirname(ctx.configFile)}; nothing to take down.`);
    rmSync(ctx.configFile, { force: true });
    return;
  }
  if (!existsSync(ctx.configFile)) throw new DemoError(`Stack ${ctx.stack} exists but its config file ${ctx.configFile} is missing.`);
  // One link to show revoked afterwards; a stack without outputs (an interrupted up) has none to show.
  const sample = await stackOutputs(ctx).then(
    (outputs) => Object.entries(outputs.links).sort(([a], [b]) => a.localeCompare(b))[0],
    () => undefined,
  );
  // The server may listen on another port than when the stack was made (--port 0).
  await pulumiQuiet("Setting klarefi:baseUrl", ["config", "set", "--stack", ctx.stack, "--config-file", ctx.configFile, "klarefi:baseUrl", server.url], ctx);
  step("pulumi destroy: revokes every link of the kept stack");
  stackTouched = true;
  // --run-program: the provider gets today's stack config (the new baseUrl), not the one saved at the last up.
  await pulumiShown("pulumi destroy", ["destroy", "--yes", "--run-program", "--stack", ctx.stack, "--config-file", ctx.configFile], ctx);
  if (sample !== undefined) {
    step(`Opening the link of ${sample[0]} again`);
    await showLink("After destroy", onServer(sample[1].signedUrl, server), 410);
  }
  await removeStack(ctx);
}

/** Runs the demo; resolves with the process exit code. Stops the server and every child before answering. */
export async function main(argv: readonly string[]): Promise<number> {
  let server: RunningKlarefiServer | undefined;
  let stateHint = "";
  const uninstall = installSignalHandlers(() => {});
  try {
    const options = parseDemoArgs(argv);
    if (options === "help") {
      say(DEMO_USAGE);
      return 0;
    }
    mkdirSync(options.stateDir, { recursive: true });
    if (argv.some((arg) => /^--(state-dir|db|port)(=|$)/.test(arg))) stateHint = " with the same --state-dir, --db and --port";
    const ctx: PulumiContext = {
      env: pulumiEnv(options.stateDir),
      configFile: path.join(options.stateDir, `Pulumi.${options.stack}.yaml`),
      stack: options.stack,
    };
    server = await startServer(options);
    say(`Local Klarefi server on ${server.url} (database ${server.dbPath}).`);
    checkInterrupted();
    if (options.mode === "down") await down(ctx, server);
    else await roundTrip(ctx, server, options.mode === "keep");
    say();
    say(options.mode === "roundtrip" ? "Demo finished: links provisioned, opened, revoked; stack removed." : "Done.");
    return 0;
  } catch (error) {
    if (error instanceof DemoError) {
      const left = stackTouched ? ` The stack is left as it is: run the demo again, or take it down with \`npm run demo:down\`${stateHint}.` : "";
      process.stderr.write(`demo: ${error.message}${left}\n`);
      return error.exitCode;
    }
    process.stderr.write(`demo: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    uninstall();
    for (const child of running) child.kill("SIGTERM");
    await server?.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Nothing should be left holding the event loop; if something is, do not hang.
      setTimeout(() => process.exit(code), 5_000).unref();
    },
    (error: unknown) => {
      process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
