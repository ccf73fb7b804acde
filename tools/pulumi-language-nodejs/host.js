"use strict";
// The gRPC side of the minimal Node.js language host: loads the protocol stubs
// that ship with @pulumi/pulumi, implements pulumirpc.LanguageRuntime, and runs
// programs through @pulumi/pulumi's own `cmd/run` entry point.
const childProcess = require("node:child_process");
const os = require("node:os");
const path = require("node:path");
const logic = require("./logic");
const packages = require("./packages");

/** Version this host reports; it stands in for the plugin of the Pulumi CLI the project pins. */
const HOST_VERSION = "3.276.0";

/** Where Node should look for @pulumi/pulumi and its dependencies, most specific first. */
function searchPaths() {
  return [process.cwd(), path.resolve(__dirname, "..", ".."), __dirname];
}

/**
 * Loads @grpc/grpc-js and the generated LanguageRuntime stubs from the
 * installed @pulumi/pulumi, so the host speaks exactly that SDK's protocol.
 * Called once at start-up; throws a readable error when @pulumi/pulumi is missing.
 */
function loadProtocol() {
  const paths = searchPaths();
  let pkgJson;
  try {
    pkgJson = require.resolve("@pulumi/pulumi/package.json", { paths });
  } catch {
    throw new Error(
      `pulumi-language-nodejs could not find @pulumi/pulumi from ${paths.join(", ")}; run npm install first.`,
    );
  }
  const sdkDir = path.dirname(pkgJson);
  const fromSdk = (request) => require(require.resolve(request, { paths: [sdkDir, ...paths] }));
  return {
    grpc: fromSdk("@grpc/grpc-js"),
    languageGrpc: fromSdk("@pulumi/pulumi/proto/language_grpc_pb.js"),
    language: fromSdk("@pulumi/pulumi/proto/language_pb.js"),
    plugin: fromSdk("@pulumi/pulumi/proto/plugin_pb.js"),
    empty: fromSdk("google-protobuf/google/protobuf/empty_pb.js"),
  };
}

/** The program directory, entry point and runtime options of a request carrying a ProgramInfo. */
function programInfo(req) {
  const info = typeof req.hasInfo === "function" && req.hasInfo() ? req.getInfo() : undefined;
  const options = info && info.hasOptions() ? info.getOptions().toJavaScript() : {};
  return {
    rootDirectory: info ? info.getRootDirectory() : "",
    programDirectory: (info && info.getProgramDirectory()) || "",
    entryPoint: (info && info.getEntryPoint()) || "",
    options,
  };
}

/**
 * Creates the LanguageRuntime implementation. Methods not listed here (code
 * generation, packing, linking, templates, option prompts) are
 * answered UNIMPLEMENTED by grpc-js, which the engine treats as "not supported".
 * @param {ReturnType<typeof loadProtocol>} proto
 * @param {{ engineAddress: string, tracing: string }} settings
 */
function createLanguageRuntime(proto, settings) {
  const { grpc, language: pb, plugin: pluginPb, empty: emptyPb } = proto;
  const state = { engineAddress: settings.engineAddress, cancelled: false };
  /** @type {Set<import("node:child_process").ChildProcess>} */
  const children = new Set();

  const fail = (callback, code, message) => callback({ code, details: message, message });

  function stopChild(child) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGINT");
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }, 5000);
    timer.unref();
  }

  function resolveRunPath(programDirectory) {
    const override = process.env.PULUMI_LANGUAGE_NODEJS_RUN_PATH || "";
    const request = override || "@pulumi/pulumi/cmd/run";
    if (override && path.isAbsolute(override)) return override;
    return require.resolve(request, { paths: [programDirectory] });
  }

  function run(call, callback) {
    const req = call.request;
    const reply = (result) => {
      const res = new pb.RunResponse();
      res.setError(result.error);
      res.setBail(result.bail);
      callback(null, res);
    };
    if (state.cancelled) return reply({ error: "The language host was cancelled; the program was not run.", bail: false });
    if (req.getAttachDebugger()) {
      return reply({ error: "Attaching a debugger is not supported by this minimal Node.js language host.", bail: false });
    }
    const info = programInfo(req);
    const programDirectory = info.programDirectory || req.getPwd() || process.cwd();
    const options = logic.parseRuntimeOptions(info.options);
    if (!options.ok) return reply({ error: options.error, bail: false });
    const nodeArgs = logic.splitWords(options.nodeargs);
    if (!nodeArgs.ok) return reply({ error: nodeArgs.error, bail: false });
    const configEntries = [];
    req.getConfigMap().forEach((value, key) => configEntries.push([key, value]));
    const config = logic.configJson(configEntries);
    if (!config.ok) return reply({ error: `Failed to serialize configuration: ${config.error}`, bail: false });

    let runPath;
    try {
      runPath = resolveRunPath(programDirectory);
    } catch {
      return reply({
        error: `It looks like the Pulumi SDK has not been installed in ${programDirectory}. Have you run npm install?`,
        bail: false,
      });
    }

    const args = logic.runArguments({
      runPath,
      monitor: req.getMonitorAddress(),
      engine: state.engineAddress,
      organization: req.getOrganization(),
      project: req.getProject(),
      rootDirectory: info.rootDirectory,
      stack: req.getStack(),
      pwd: programDirectory,
      dryRun: req.getDryrun(),
      parallel: req.getParallel(),
      tracing: settings.tracing,
      entryPoint: info.entryPoint || req.getProgram() || ".",
      args: req.getArgsList(),
    });
    const env = {
      ...process.env,
      PULUMI_CONFIG: config.json,
      PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()),
    };
    if (options.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
    if (options.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;

    let child;
    try {
      child = childProcess.spawn(process.execPath, [...nodeArgs.words, ...args], {
        cwd: programDirectory,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (err) {
      return reply(logic.runResult({ code: null, signal: null, spawnError: String(err && err.message) }));
    }
    children.add(child);
    let outOfMemory = false;
    let stderrTail = "";
    child.stdout.on("data", (chunk) => process.stdout.write(chunk));
    child.stderr.on("data", (chunk) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString("utf8")).slice(-4096);
      if (/JavaScript heap out of memory|Allocation failed - process out of memory/.test(stderrTail)) outOfMemory = true;
    });
    // If the engine gives up on this call, stop the program the way the official host does (SIGINT, then kill).
    call.on("cancelled", () => stopChild(child));

    let finished = false;
    const finish = (end) => {
      if (finished) return;
      finished = true;
      children.delete(child);
      reply(logic.runResult({ ...end, outOfMemory }));
    };
    child.on("error", (err) => finish({ code: null, signal: null, spawnError: err.message }));
    child.on("exit", (code, signal) => {
      // 'close' follows once stdout/stderr are drained; do not wait forever if a grandchild holds them open.
      const timer = setTimeout(() => finish({ code, signal }), 5000);
      child.on("close", () => {
        clearTimeout(timer);
        finish({ code, signal });
      });
    });
  }

  /**
   * RunPlugin for policy packs (kind `analyzer`), which Pulumi 3.276 starts
   * through the language host of their `PulumiPolicy.yaml` runtime: runs
   * `node @pulumi/pulumi/cmd/run-policy-pack <engine> <pack folder>` in the
   * pack's folder and streams its stdout (whose first line is the port the
   * engine dials), its stderr and its exit code. Other plugin kinds (resource
   * providers, tools written as Node.js projects) are refused UNIMPLEMENTED.
   */
  function runPlugin(call) {
    const req = call.request;
    const refuse = (code, message) => call.emit("error", { code, details: message, message });
    if (req.getKind() !== logic.ANALYZER_KIND) {
      return refuse(
        grpc.status.UNIMPLEMENTED,
        `This minimal Node.js language host runs policy packs only (plugin kind "analyzer"), not plugins of kind "${req.getKind()}".`,
      );
    }
    if (state.cancelled) return refuse(grpc.status.CANCELLED, "The language host was cancelled; the policy pack was not started.");
    if (req.getAttachDebugger()) {
      return refuse(grpc.status.UNIMPLEMENTED, "Attaching a debugger is not supported by this minimal Node.js language host.");
    }
    const info = programInfo(req);
    const programDirectory = info.programDirectory;
    if (!programDirectory) return refuse(grpc.status.INVALID_ARGUMENT, "RunPlugin needs the policy pack's folder (ProgramInfo.program_directory).");
    const options = logic.parseRuntimeOptions(info.options);
    if (!options.ok) return refuse(grpc.status.INVALID_ARGUMENT, options.error);
    const nodeArgs = logic.splitWords(options.nodeargs);
    if (!nodeArgs.ok) return refuse(grpc.status.INVALID_ARGUMENT, nodeArgs.error);
    let runPath;
    try {
      runPath = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [programDirectory] });
    } catch {
      return refuse(
        grpc.status.FAILED_PRECONDITION,
        `It looks like the policy pack's dependencies are not installed: @pulumi/pulumi/cmd/run-policy-pack cannot be found from ${programDirectory}; run npm install there.`,
      );
    }
    const { argv, cwd } = logic.policyPackArguments({ runPath, nodeArgs: nodeArgs.words, args: req.getArgsList(), programDirectory });
    const env = logic.pluginEnvironment(req.getEnvList(), process.env, options);

    let child;
    try {
      child = childProcess.spawn(process.execPath, argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      return refuse(grpc.status.INTERNAL, `Problem executing plugin program (could not run language executor): ${err && err.message}`);
    }
    children.add(child);
    const send = (set, value) => {
      if (call.cancelled || call.writableEnded) return;
      const res = new pb.RunPluginResponse();
      set(res, value);
      call.write(res);
    };
    child.stdout.on("data", (chunk) => send((res, v) => res.setStdout(v), chunk));
    child.stderr.on("data", (chunk) => send((res, v) => res.setStderr(v), chunk));
    // The engine cancels the call to stop the plugin (at the end of the run, or on Ctrl-C).
    call.on("cancelled", () => stopChild(child));

    let finished = false;
    const finish = (code, signal, spawnError) => {
      if (finished) return;
      finished = true;
      children.delete(child);
      if (call.cancelled || call.writableEnded) return;
      if (spawnError) return refuse(grpc.status.INTERNAL, `Problem executing plugin program (could not run language executor): ${spawnError}`);
      // Killed by a signal: 128 + its number, as a shell reports it.
      const exitCode = code !== null ? code : 128 + ((signal && os.constants.signals[signal]) || 0);
      send((res, v) => res.setExitcode(v), exitCode);
      call.end();
    };
    child.on("error", (err) => finish(null, null, err.message));
    child.on("exit", (code, signal) => {
      const timer = setTimeout(() => finish(code, signal), 5000);
      child.on("close", () => {
        clearTimeout(timer);
        finish(code, signal);
      });
    });
  }

  return {
    state,
    children,
    stopAll() {
      for (const child of children) stopChild(child);
    },
    implementation: {
      handshake(call, callback) {
        const req = call.request;
        if (req.getEngineAddress()) state.engineAddress = req.getEngineAddress();
        if (!state.engineAddress) {
          return fail(callback, grpc.status.INVALID_ARGUMENT, "Handshake needs an engine address.");
        }
        callback(null, new pb.LanguageHandshakeResponse());
      },

      getPluginInfo(_call, callback) {
        const info = new pluginPb.PluginInfo();
        info.setVersion(HOST_VERSION);
        callback(null, info);
      },

      // Deprecated by the engine in favour of GetRequiredPackages; answered from the same scan.
      getRequiredPlugins(call, callback) {
        const req = call.request;
        const dir = programInfo(req).programDirectory || req.getPwd() || process.cwd();
        const res = new pb.GetRequiredPluginsResponse();
        for (const p of packages.requiredPlugins(dir)) {
          const dep = new pluginPb.PluginDependency();
          dep.setName(p.name);
          dep.setKind("resource");
          dep.setVersion(p.version);
          dep.setServer(p.server);
          res.addPlugins(dep);
        }
        callback(null, res);
      },

      // Lists resource plugins declared by installed npm packages (see packages.requiredPlugins). For this
      // repository the answer is empty: the dynamic provider `pulumi-nodejs` is built into @pulumi/pulumi.
      getRequiredPackages(call, callback) {
        const info = programInfo(call.request);
        if (!info.programDirectory) {
          return fail(callback, grpc.status.INVALID_ARGUMENT, "GetRequiredPackages needs the program directory.");
        }
        const res = new pb.GetRequiredPackagesResponse();
        for (const p of packages.requiredPlugins(info.programDirectory)) {
          const dep = new pluginPb.PackageDependency();
          dep.setName(p.name);
          dep.setKind("resource");
          dep.setVersion(p.version);
          dep.setServer(p.server);
          res.addPackages(dep);
        }
        callback(null, res);
      },

      run,

      runPlugin,

      // Dependencies are installed with npm by the project itself; this host does not run a package manager.
      installDependencies(call) {
        const info = programInfo(call.request);
        const dir = info.programDirectory || call.request.getDirectory() || process.cwd();
        const res = new pb.InstallDependenciesResponse();
        res.setStdout(
          Buffer.from(
            `This minimal Node.js language host does not install packages: dependencies of ${dir} ` +
              "are managed with npm (run `npm install` there). Nothing was installed.\n",
          ),
        );
        call.write(res);
        call.end();
      },

      about(_call, callback) {
        const res = new pb.AboutResponse();
        res.setExecutable(process.execPath);
        res.setVersion(process.versions.node);
        callback(null, res);
      },

      getProgramDependencies(call, callback) {
        const req = call.request;
        const dir = programInfo(req).programDirectory || req.getPwd() || process.cwd();
        const res = new pb.GetProgramDependenciesResponse();
        for (const d of packages.programDependencies(dir, req.getTransitivedependencies())) {
          const dep = new pb.DependencyInfo();
          dep.setName(d.name);
          dep.setVersion(d.version);
          res.addDependencies(dep);
        }
        callback(null, res);
      },

      // Stops running programs (SIGINT, then SIGKILL after 5 s); later Run calls are refused.
      cancel(_call, callback) {
        state.cancelled = true;
        for (const child of children) stopChild(child);
        callback(null, new emptyPb.Empty());
      },
    },
  };
}

/**
 * Watches the engine: the host exits once the engine's gRPC endpoint has been
 * unreachable for `failuresAllowed` checks in a row (one check a second), or
 * when this process is orphaned. The engine normally kills its plugins itself;
 * this is the safety net for an engine that crashed.
 * @param {() => string} engineAddress reads the current engine address
 * @returns {() => void} stops the watch
 */
function watchEngine(grpc, engineAddress, onGone, failuresAllowed = 5) {
  const parentPid = process.ppid;
  const identity = (b) => b;
  const Health = grpc.makeGenericClientConstructor(
    {
      check: {
        path: "/grpc.health.v1.Health/Check",
        requestStream: false,
        responseStream: false,
        requestSerialize: () => Buffer.alloc(0),
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    "Health",
  );
  let client;
  let clientAddress = "";
  let failures = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (process.ppid !== parentPid) return onGone("the engine process went away");
    // The address can arrive late, through Handshake; follow it.
    const address = engineAddress();
    if (address !== clientAddress) {
      if (client) client.close();
      client = address ? new Health(address, grpc.credentials.createInsecure()) : undefined;
      clientAddress = address;
      failures = 0;
    }
    if (!client || busy) return;
    busy = true;
    client.check({}, { deadline: Date.now() + 2000 }, (err) => {
      busy = false;
      // Any answer, even UNIMPLEMENTED, means the engine is still there.
      if (!err || err.code === grpc.status.UNIMPLEMENTED) failures = 0;
      else if (++failures >= failuresAllowed) onGone(`the engine at ${clientAddress} stopped answering`);
    });
  }, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (client) client.close();
  };
}

/**
 * Starts the language host: serves LanguageRuntime on 127.0.0.1:<free port>,
 * prints the port as the first stdout line (the engine's plugin protocol), and
 * exits when the engine goes away or on SIGINT/SIGTERM.
 * @param {string[]} argv command-line arguments after the script name
 */
function main(argv) {
  const parsed = logic.parseHostArgs(argv);
  if (parsed.showVersion) {
    process.stdout.write(`${HOST_VERSION}\n`);
    return;
  }
  let proto;
  try {
    proto = loadProtocol();
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const { grpc } = proto;
  const runtime = createLanguageRuntime(proto, { engineAddress: parsed.engineAddress, tracing: parsed.tracing });
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
  });
  server.addService(proto.languageGrpc.LanguageRuntimeService, runtime.implementation);

  let stopWatch = () => {};
  let exiting = false;
  const shutdown = (reason, code) => {
    if (exiting) return;
    exiting = true;
    stopWatch();
    runtime.stopAll();
    if (reason) process.stderr.write(`pulumi-language-nodejs: shutting down: ${reason}\n`);
    const force = setTimeout(() => {
      server.forceShutdown();
      process.exit(code);
    }, 5000);
    force.unref();
    server.tryShutdown(() => process.exit(code));
  };
  process.on("SIGINT", () => shutdown("", 0));
  process.on("SIGTERM", () => shutdown("", 0));
  // A program still running when the host dies would be orphaned: stop it on any exit.
  process.on("exit", () => {
    for (const child of runtime.children) child.kill("SIGKILL");
  });

  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`pulumi-language-nodejs could not start its gRPC server: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${port}\n`);
    stopWatch = watchEngine(grpc, () => runtime.state.engineAddress, (why) => shutdown(why, 0));
  });
}

module.exports = { HOST_VERSION, loadProtocol, createLanguageRuntime, watchEngine, main };
