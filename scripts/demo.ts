/**
 * @module
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
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { DEFAULT_TEST_API_KEY, startKlarefiServer, type RunningKlarefiServer } from "../server";
import { PulumiCliError, PulumiCliStack } from "./pulumi-cli";
import { pulumiProcessEnv } from "./pulumi-env";

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

/**
 * One run of the demo: its stack, and what the failure message and the
 * signal handlers need to know. Made by `main`; nothing of it lives at module
 * scope, so two runs in one process cannot see each other.
 */
interface DemoRun {
  stack: PulumiCliStack;
  /** Aborted on SIGTERM: a running pulumi gets SIGTERM and cancels. */
  abort: AbortController;
  /** Set by SIGINT / SIGTERM; the demo stops after the current step. */
  interrupted: boolean;
  /** Set once the demo starts changing the stack, so a failure can say what was left behind. */
  stackTouched: boolean;
}

/** The environment of every `pulumi` the demo runs: offline, local, the demo passphrase, the repository's tools first on PATH. */
function demoPulumiEnv(stateDir: string): NodeJS.ProcessEnv {
  return pulumiProcessEnv({
    backendDir: stateDir,
    pulumiHome: path.join(stateDir, "home"),
    passphrase: DEMO_PASSPHRASE,
    pathPrefix: [path.join(repoRoot, "node_modules", ".bin")],
  });
}

/**
 * Runs one pulumi step and turns its failure into the one line the user
 * sees: a quiet step names Pulumi's last error line, a shown one points at
 * Pulumi's own output above. An interrupted run says so instead.
 */
async function pulumiStep<T>(run: DemoRun, step: string, shown: boolean, fn: () => Promise<T>): Promise<T> {
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    checkInterrupted(run);
    if (!(error instanceof PulumiCliError)) throw error;
    if (error.reason === "not-found") {
      throw new DemoError("The pulumi CLI was not found; run `npm run setup` (it installs or builds it into node_modules/.bin).");
    }
    if (error.reason !== "exit") throw new DemoError(`${step} failed: ${error.message.split("\n")[0] ?? ""}`);
    throw new DemoError(
      shown
        ? `${step} failed (pulumi exit code ${error.code}); see Pulumi's output above.`
        : `${step} failed (pulumi exit code ${error.code}): ${error.lastLine}`,
    );
  }
  checkInterrupted(run);
  return value;
}

/**
 * Creates the stack (unless it exists) with its config file in the state
 * folder rather than in examples/campaign, so the committed example stays
 * untouched, then points it at the local server.
 */
async function prepareStack(run: DemoRun, server: RunningKlarefiServer): Promise<void> {
  const { stack } = run;
  const configFile = stack.configFile ?? "";
  if (await pulumiStep(run, "Listing the stacks (pulumi stack ls)", false, () => stack.exists())) {
    if (!existsSync(configFile)) {
      throw new DemoError(`Stack ${stack.name} exists but its config file ${configFile} is missing; remove ${path.dirname(configFile)} to start over.`);
    }
    say(`Reusing stack ${stack.name} from ${path.dirname(configFile)}.`);
  } else {
    const projectStackFile = path.join(DEMO_PROGRAM_DIR, `Pulumi.${stack.name}.yaml`);
    if (existsSync(projectStackFile)) {
      throw new DemoError(`${projectStackFile} already exists; move it away or pass --stack <another name>.`);
    }
    // `stack init` writes the passphrase salt next to Pulumi.yaml; init() keeps it with the state instead.
    await pulumiStep(run, "Creating the stack (pulumi stack init)", false, () => stack.init());
    say(`Created stack ${stack.name} (file backend ${path.dirname(configFile)}).`);
  }
  await pulumiStep(run, "Setting klarefi:baseUrl", false, () => stack.setConfig("klarefi:baseUrl", server.url));
  // The key goes through stdin so it never shows in a process listing.
  await pulumiStep(run, "Setting klarefi:apiKey", false, () => stack.setConfig("klarefi:apiKey", DEFAULT_TEST_API_KEY, { secret: true }));
  say(`Stack config: klarefi:baseUrl = ${server.url}, klarefi:apiKey = [secret] (the local server's documented test key).`);
}

async function stackOutputs(run: DemoRun): Promise<DemoStackOutputs> {
  const outputs = await pulumiStep(run, "Reading the stack outputs", false, () => run.stack.outputs(true));
  const parsed = DemoStackOutputs.safeParse(outputs);
  if (!parsed.success) throw new DemoError("The stack outputs have no links/size in the expected shape.");
  return parsed.data;
}

/**
 * Resources of the stack that stand for something at Klarefi (sessions,
 * campaigns): custom resources other than providers. An interrupted `up` can
 * leave the stack with none, and `destroy --run-program` then registers the
 * stack and component resources anew without deleting them (pulumi/pulumi#19747).
 */
async function liveResources(run: DemoRun): Promise<number> {
  const resources = await pulumiStep(run, "Reading the stack's state (pulumi stack export)", false, () => run.stack.resources());
  return resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:")).length;
}

async function removeStack(run: DemoRun, options: { force?: boolean } = {}): Promise<void> {
  await pulumiStep(run, "Removing the stack (pulumi stack rm)", false, () => run.stack.remove(options));
  run.stackTouched = false;
  say(`Removed stack ${run.stack.name}.`);
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

function checkInterrupted(run: DemoRun): void {
  if (run.interrupted) throw new DemoError("Interrupted.", 130);
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
 * only notes it and stops after the current step; SIGTERM is passed on to a
 * running pulumi through the run's abort signal.
 */
function installSignalHandlers(run: DemoRun, onSignal: () => void): () => void {
  const onInt = () => {
    run.interrupted = true;
    onSignal();
  };
  const onTerm = () => {
    run.interrupted = true;
    run.abort.abort();
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

async function roundTrip(run: DemoRun, server: RunningKlarefiServer, keep: boolean): Promise<void> {
  const { stack } = run;
  step("pulumi up: one intake link per row of examples/campaign/applicants.csv");
  await prepareStack(run, server);
  run.stackTouched = true;
  await pulumiStep(run, "pulumi up", true, () => stack.up({ display: "inherit" }));

  const outputs = await stackOutputs(run);
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
    say(`  export PATH=${path.join(repoRoot, "node_modules", ".bin")}:$PATH PULUMI_BACKEND_URL=${stack.env.PULUMI_BACKEND_URL} \\`);
    say(`    PULUMI_CONFIG_PASSPHRASE=${DEMO_PASSPHRASE} PULUMI_HOME=${stack.env.PULUMI_HOME}`);
    say(`  pulumi -C ${DEMO_PROGRAM_DIR} stack output -s ${stack.name} --show-secrets links`);
    say(`  pulumi -C ${DEMO_PROGRAM_DIR} preview ${stack.scope.join(" ")}`);
    await new Promise<void>((resolve) => {
      const uninstall = installSignalHandlers(run, () => {
        uninstall();
        resolve();
      });
    });
    run.interrupted = false;
    say();
    say("Stopping the local Klarefi server; the stack is kept.");
    return;
  }

  step("pulumi destroy: revokes every link");
  await pulumiStep(run, "pulumi destroy", true, () => stack.destroy({ display: "inherit" }));
  step(`Opening the same link of ${firstCase} again`);
  await showLink("After destroy", first.signedUrl, 410);
  await removeStack(run);
}

async function down(run: DemoRun, server: RunningKlarefiServer): Promise<void> {
  const { stack } = run;
  const configFile = stack.configFile ?? "";
  if (!(await pulumiStep(run, "Listing the stacks (pulumi stack ls)", false, () => stack.exists()))) {
    say(`No stack ${stack.name} in ${path.dirname(configFile)}; nothing to take down.`);
    rmSync(configFile, { force: true });
    return;
  }
  if (!existsSync(configFile)) throw new DemoError(`Stack ${stack.name} exists but its config file ${configFile} is missing.`);
  if ((await liveResources(run)) === 0) {
    // Nothing at Klarefi to revoke (say, an up interrupted before its first create): only the stack to remove.
    say(`Stack ${stack.name} holds no links.`);
    await removeStack(run, { force: true });
    return;
  }
  // One link to show revoked afterwards; a stack without outputs (an interrupted up) has none to show.
  const sample = await stackOutputs(run).then(
    (outputs) => Object.entries(outputs.links).sort(([a], [b]) => a.localeCompare(b))[0],
    () => undefined,
  );
  // The server may listen on another port than when the stack was made (--port 0).
  await pulumiStep(run, "Setting klarefi:baseUrl", false, () => stack.setConfig("klarefi:baseUrl", server.url));
  step("pulumi destroy: revokes every link of the kept stack");
  run.stackTouched = true;
  // --run-program: the provider gets today's stack config (the new baseUrl), not the one saved at the last up.
  await pulumiStep(run, "pulumi destroy", true, () => stack.destroy({ display: "inherit", runProgram: true }));
  if (sample !== undefined) {
    step(`Opening the link of ${sample[0]} again`);
    await showLink("After destroy", onServer(sample[1].signedUrl, server), 410);
  }
  const left = await liveResources(run);
  if (left > 0) throw new DemoError(`pulumi destroy left ${left} resource(s) in stack ${stack.name}; run the demo with --down again.`);
  // Only the stack and component records can be left (pulumi/pulumi#19747): nothing at Klarefi, safe to force.
  await removeStack(run, { force: true });
}

/** Runs the demo; resolves with the process exit code. Stops the server and every child before answering. */
export async function main(argv: readonly string[]): Promise<number> {
  let server: RunningKlarefiServer | undefined;
  let stateHint = "";
  let run: DemoRun | undefined;
  let uninstall = () => {};
  try {
    const options = parseDemoArgs(argv);
    if (options === "help") {
      say(DEMO_USAGE);
      return 0;
    }
    mkdirSync(options.stateDir, { recursive: true });
    if (argv.some((arg) => /^--(state-dir|db|port)(=|$)/.test(arg))) stateHint = " with the same --state-dir, --db and --port";
    const abort = new AbortController();
    run = {
      stack: new PulumiCliStack({
        projectDir: DEMO_PROGRAM_DIR,
        stack: options.stack,
        env: demoPulumiEnv(options.stateDir),
        configFile: path.join(options.stateDir, `Pulumi.${options.stack}.yaml`),
        signal: abort.signal,
      }),
      abort,
      interrupted: false,
      stackTouched: false,
    };
    uninstall = installSignalHandlers(run, () => {});
    server = await startServer(options);
    say(`Local Klarefi server on ${server.url} (database ${server.dbPath}).`);
    checkInterrupted(run);
    if (options.mode === "down") await down(run, server);
    else await roundTrip(run, server, options.mode === "keep");
    say();
    say(options.mode === "roundtrip" ? "Demo finished: links provisioned, opened, revoked; stack removed." : "Done.");
    return 0;
  } catch (error) {
    if (error instanceof DemoError) {
      const left = run?.stackTouched ? ` The stack is left as it is: run the demo again, or take it down with \`npm run demo:down\`${stateHint}.` : "";
      process.stderr.write(`demo: ${error.message}${left}\n`);
      return error.exitCode;
    }
    process.stderr.write(`demo: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    uninstall();
    run?.abort.abort();
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
