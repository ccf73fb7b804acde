"use strict";
// File-system look-ups of the language host: which Pulumi resource plugins the
// installed npm packages ask for, and which npm packages a program depends on.
const fs = require("node:fs");
const path = require("node:path");

/** Upper bound on directories visited by one plugin scan, so a huge tree cannot stall the engine. */
const MAX_SCANNED_DIRS = 200000;

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The plugin an npm package declares through `"pulumi": { "resource": true }`
 * in its package.json, named as the engine names plugins: the `pulumi.name`
 * field, else the package name without its `@pulumi/` scope.
 * @param {any} pkg parsed package.json
 * @returns {{ name: string, version: string, server: string } | undefined}
 */
function pluginOfPackage(pkg) {
  if (!pkg || typeof pkg !== "object" || !pkg.pulumi || pkg.pulumi.resource !== true) return undefined;
  let name = typeof pkg.pulumi.name === "string" && pkg.pulumi.name ? pkg.pulumi.name : "";
  if (!name && typeof pkg.name === "string" && pkg.name.startsWith("@pulumi/")) name = pkg.name.slice("@pulumi/".length);
  let version = typeof pkg.pulumi.version === "string" && pkg.pulumi.version ? pkg.pulumi.version : pkg.version;
  if (!name || typeof version !== "string" || !version) return undefined;
  if (!version.startsWith("v")) version = `v${version}`;
  return { name, version, server: typeof pkg.pulumi.server === "string" ? pkg.pulumi.server : "" };
}

/**
 * Lists the resource plugins required by the npm packages installed under the
 * program directory: every `package.json` inside a `node_modules` folder below
 * it that carries `"pulumi": { "resource": true }`. Like the official host it
 * looks only downwards from the program directory, follows symlinks once and
 * skips nested policy packs. Unreadable folders are skipped, not fatal.
 *
 * For this repository the list is empty: its only provider is the dynamic
 * provider built into @pulumi/pulumi (plugin `pulumi-nodejs`), which the engine
 * loads on its own when the program registers a dynamic resource.
 * @param {string} programDirectory
 * @returns {{ name: string, version: string, server: string }[]}
 */
function requiredPlugins(programDirectory) {
  const found = new Map();
  const visited = new Set();
  const stack = [{ dir: path.resolve(programDirectory), inNodeModules: false }];
  while (stack.length > 0 && visited.size < MAX_SCANNED_DIRS) {
    const { dir, inNodeModules } = stack.pop();
    let real;
    try {
      real = fs.realpathSync(dir);
    } catch {
      continue;
    }
    if (visited.has(real)) continue;
    visited.add(real);
    let entries;
    try {
      entries = fs.readdirSync(real, { withFileTypes: true });
    } catch {
      continue;
    }
    const childInNodeModules = inNodeModules || path.basename(dir) === "node_modules";
    for (const entry of entries) {
      const full = path.join(real, entry.name);
      let isDir = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        try {
          isDir = fs.statSync(full).isDirectory();
        } catch {
          continue;
        }
      }
      if (isDir) {
        if (entry.name === ".git") continue;
        if (fs.existsSync(path.join(full, "PulumiPolicy.yaml"))) continue;
        stack.push({ dir: full, inNodeModules: childInNodeModules });
      } else if (inNodeModules && entry.name === "package.json") {
        const plugin = pluginOfPackage(readJson(full));
        if (plugin) found.set(`${plugin.name}@${plugin.version}`, plugin);
      }
    }
  }
  return [...found.values()];
}

/**
 * The nearest package.json at or above `dir`, as npm would pick it.
 * @param {string} dir
 * @returns {string | undefined}
 */
function nearestPackageJson(dir) {
  let current = path.resolve(dir);
  for (let i = 0; i < 100; i++) {
    const candidate = path.join(current, "package.json");
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
  return undefined;
}

/**
 * The version of `name` that Node would load from `dir`, found by walking up
 * the node_modules folders; undefined when it is not installed.
 * @param {string} name
 * @param {string} dir
 * @returns {string | undefined}
 */
function installedVersion(name, dir) {
  let current = path.resolve(dir);
  for (let i = 0; i < 100; i++) {
    const pkg = readJson(path.join(current, "node_modules", name, "package.json"));
    if (pkg && typeof pkg.version === "string") return pkg.version;
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
  return undefined;
}

/**
 * The npm packages a program depends on: the dependencies and devDependencies
 * of its nearest package.json, each with the installed version (or the
 * declared range when it is not installed). With `transitive`, every package
 * recorded in the package-lock.json beside that package.json is listed instead.
 * @param {string} programDirectory
 * @param {boolean} transitive
 * @returns {{ name: string, version: string }[]}
 */
function programDependencies(programDirectory, transitive) {
  const pkgFile = nearestPackageJson(programDirectory);
  if (!pkgFile) return [];
  const root = path.dirname(pkgFile);
  if (transitive) {
    const lock = readJson(path.join(root, "package-lock.json"));
    if (lock && lock.packages && typeof lock.packages === "object") {
      const seen = new Map();
      for (const [key, entry] of Object.entries(lock.packages)) {
        const at = key.lastIndexOf("node_modules/");
        if (at < 0 || !entry || typeof entry.version !== "string") continue;
        const name = key.slice(at + "node_modules/".length);
        seen.set(`${name}@${entry.version}`, { name, version: entry.version });
      }
      return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
    }
  }
  const pkg = readJson(pkgFile) || {};
  const declared = { ...(pkg.devDependencies || {}), ...(pkg.dependencies || {}) };
  return Object.keys(declared)
    .sort()
    .map((name) => ({ name, version: installedVersion(name, programDirectory) || String(declared[name]) }));
}

module.exports = { pluginOfPackage, requiredPlugins, programDependencies, nearestPackageJson };
