"use strict";
// Pure helpers of the minimal Node.js language host: no I/O, no process state.
// Each one turns engine input (argv, RunRequest fields, a child's exit) into
// plain data, so the gRPC glue in host.js stays thin and these stay testable.

/** Exit code @pulumi/pulumi's cmd/run uses after it already logged a user-actionable error. */
const EXIT_CODE_ALREADY_REPORTED = 32;

/** Go-style flags (`-x v`, `--x=v`) that take a value; every other flag is treated as a boolean. */
const FLAGS_WITH_VALUE = new Set(["tracing", "root", "runtime", "v", "verbose", "logflow-file", "log_dir"]);

/**
 * Parses the plugin command line the Pulumi engine uses: `[flags] <engine-address>`.
 * Flags follow Go's `flag` package syntax (one or two dashes, `=` or a separate
 * value); unknown flags are accepted and ignored, so newer or older engines that
 * pass e.g. `-typescript` or `--logtostderr` do not break the host.
 * @param {string[]} argv arguments after the script name
 * @returns {{ engineAddress: string, tracing: string, root: string, showVersion: boolean, positional: string[] }}
 */
function parseHostArgs(argv) {
  const flags = new Map();
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.length > 1 && arg.startsWith("-")) {
      const body = arg.replace(/^--?/, "");
      const eq = body.indexOf("=");
      if (eq >= 0) {
        flags.set(body.slice(0, eq), body.slice(eq + 1));
      } else if (FLAGS_WITH_VALUE.has(body) && i + 1 < argv.length) {
        flags.set(body, argv[++i]);
      } else {
        flags.set(body, "true");
      }
      continue;
    }
    positional.push(arg);
  }
  return {
    engineAddress: positional[0] || "",
    tracing: flags.get("tracing") || "",
    root: flags.get("root") || "",
    showVersion: flags.get("version") === "true",
    positional,
  };
}

/**
 * Reads the `runtime.options` block of Pulumi.yaml (sent as ProgramInfo.options).
 * `typescript` defaults to true, as with the official host: it only makes
 * @pulumi/pulumi register ts-node, which leaves plain `.js` programs untouched.
 * @param {Record<string, unknown>} options
 * @returns {{ ok: true, typescript: boolean, tsconfig: string, nodeargs: string } | { ok: false, error: string }}
 */
function parseRuntimeOptions(options) {
  const o = options || {};
  let typescript = true;
  if (o.typescript !== undefined) {
    if (typeof o.typescript !== "boolean") {
      return { ok: false, error: `The runtime option "typescript" must be a boolean, got ${JSON.stringify(o.typescript)}.` };
    }
    typescript = o.typescript;
  }
  let tsconfig = "";
  if (o.tsconfig !== undefined) {
    if (typeof o.tsconfig !== "string") {
      return { ok: false, error: `The runtime option "tsconfig" must be a string, got ${JSON.stringify(o.tsconfig)}.` };
    }
    tsconfig = o.tsconfig;
  }
  let nodeargs = "";
  if (o.nodeargs !== undefined) {
    if (typeof o.nodeargs !== "string") {
      return { ok: false, error: `The runtime option "nodeargs" must be a string, got ${JSON.stringify(o.nodeargs)}.` };
    }
    nodeargs = o.nodeargs;
  }
  return { ok: true, typescript, tsconfig, nodeargs };
}

/**
 * Splits a `nodeargs` string into words the way a POSIX shell would for
 * plain words, single quotes, double quotes and backslash escapes (no
 * expansion of variables or globs).
 * @param {string} text
 * @returns {{ ok: true, words: string[] } | { ok: false, error: string }}
 */
function splitWords(text) {
  const words = [];
  let current = "";
  let inWord = false;
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = "";
      else current += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = "";
      else if (c === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) current += text[++i];
      else current += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) {
    return { ok: false, error: `The runtime option "nodeargs" has an unclosed ${quote} quote: ${text}` };
  }
  if (inWord) words.push(current);
  return { ok: true, words };
}

/**
 * Turns the engine's config map (`<namespace>:<name>` keys) into the JSON that
 * @pulumi/pulumi reads from PULUMI_CONFIG. Keys are written in the
 * `<namespace>:config:<name>` form, which every @pulumi/pulumi version reads
 * (newer ones strip the `:config:` part again), exactly one-to-one.
 * @param {Iterable<[string, string]>} entries
 * @returns {{ ok: true, json: string } | { ok: false, error: string }}
 */
function configJson(entries) {
  const out = {};
  for (const [key, value] of entries) {
    const idx = key.indexOf(":");
    if (idx <= 0 || idx === key.length - 1) {
      return { ok: false, error: `The configuration key "${key}" is not of the form <namespace>:<name>.` };
    }
    const rest = key.slice(idx + 1);
    const fullKey = rest.startsWith("config:") ? key : `${key.slice(0, idx)}:config:${rest}`;
    out[fullKey] = value;
  }
  return { ok: true, json: JSON.stringify(out) };
}

/**
 * Builds the argument list for `node <cmd/run> ...`, flag for flag as
 * @pulumi/pulumi's cmd/run reads them (see its usage text). `--sync` is not
 * passed: @pulumi/pulumi 3.276.0 no longer performs synchronous invokes, so
 * the program talks to the engine's resource monitor directly.
 * @param {{ runPath: string, monitor: string, engine: string, organization: string, project: string,
 *   rootDirectory: string, stack: string, pwd: string, dryRun: boolean, parallel: number,
 *   tracing: string, entryPoint: string, args: string[] }} r
 * @returns {string[]}
 */
function runArguments(r) {
  const args = [r.runPath];
  const add = (name, value) => {
    if (value !== undefined && value !== null && value !== "") args.push(`--${name}`, String(value));
  };
  add("monitor", r.monitor);
  add("engine", r.engine);
  add("organization", r.organization);
  add("project", r.project);
  add("root-directory", r.rootDirectory);
  add("stack", r.stack);
  add("pwd", r.pwd);
  if (r.dryRun) args.push("--dry-run");
  add("parallel", String(Math.trunc(r.parallel || 0)));
  add("tracing", r.tracing);
  args.push(r.entryPoint || ".");
  args.push(...(r.args || []));
  return args;
}

/** The plugin kind the engine gives a policy pack (`apitype.AnalyzerPlugin`). */
const ANALYZER_KIND = "analyzer";

/**
 * The Node.js arguments and working directory for a policy pack started
 * through `RunPlugin` (kind `analyzer`), as the official host builds them:
 * `@pulumi/pulumi/cmd/run-policy-pack`, the engine's arguments (its address),
 * then the pack's folder last; the pack runs in its own folder, so that its
 * own `node_modules` are used. `nodeargs` go before the script, where Node.js
 * reads them.
 * @param {{ runPath: string, nodeArgs: string[], args: string[], programDirectory: string }} r
 * @returns {{ argv: string[], cwd: string }}
 */
function policyPackArguments(r) {
  return { argv: [...r.nodeArgs, r.runPath, ...r.args, r.programDirectory], cwd: r.programDirectory };
}

/**
 * The environment of a plugin started through `RunPlugin`: the engine's own
 * (`RunPluginRequest.env`, `KEY=value` entries), or this host's when the
 * engine sent none, plus the TypeScript settings of the runtime options.
 * @param {string[]} entries
 * @param {NodeJS.ProcessEnv} fallback
 * @param {{ typescript: boolean, tsconfig: string }} options
 * @returns {Record<string, string>}
 */
function pluginEnvironment(entries, fallback, options) {
  const env = {};
  if (entries.length === 0) {
    for (const [key, value] of Object.entries(fallback)) if (value !== undefined) env[key] = value;
  }
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (options.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
  if (options.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
  return env;
}

/**
 * Maps how the program process ended to the RunResponse the engine expects.
 * Exit code 32 means @pulumi/pulumi already showed the user an actionable
 * error, so the engine is told to bail without adding a message of its own.
 * @param {{ code: number | null, signal: string | null, spawnError?: string, outOfMemory?: boolean }} end
 * @returns {{ error: string, bail: boolean }}
 */
function runResult(end) {
  if (end.spawnError) {
    return { error: `Problem executing program (could not run language executor): ${end.spawnError}`, bail: false };
  }
  if (end.signal) {
    return { error: `Program exited unexpectedly: it was stopped by signal ${end.signal}.`, bail: false };
  }
  if (end.code === 0) return { error: "", bail: false };
  if (end.code === EXIT_CODE_ALREADY_REPORTED) return { error: "", bail: true };
  let error = `Program exited with non-zero exit code: ${end.code}`;
  if (end.outOfMemory) {
    error +=
      ". Node.js ran out of memory; raise its heap limit with the runtime option" +
      ' `nodeargs: "--max-old-space-size=<megabytes>"` in Pulumi.yaml.';
  }
  return { error, bail: false };
}

module.exports = {
  EXIT_CODE_ALREADY_REPORTED,
  parseHostArgs,
  parseRuntimeOptions,
  splitWords,
  configJson,
  runArguments,
  runResult,
  ANALYZER_KIND,
  policyPackArguments,
  pluginEnvironment,
};
