/**
 * @module
 * `npm pack` / `npm publish` (the `prepack` script, after `tsc`): removes
 * every compiled file in `dist/` whose TypeScript source is gone. tsc never
 * deletes the output of a removed source, and `package.json` `files` ships
 * whole folders of `dist/`, so without this a module deleted from the source
 * could still be packed and loaded by name.
 *
 *   node dist/scripts/prune-dist.js [--root <repository>]   prints what it removed
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";

/** The TypeScript source a compiled file of dist/ came from, or undefined for a file tsc does not write. */
export function sourceOf(distRelative: string): string | undefined {
  const match = /^(.*)\.(?:js|d\.ts|js\.map|d\.ts\.map)$/.exec(distRelative);
  return match === null ? undefined : `${match[1]}.ts`;
}

/** Removes the orphaned outputs under `<root>/dist` and answers their paths, relative to `root`. */
export function pruneDist(root: string): string[] {
  const dist = path.join(root, "dist");
  const removed: string[] = [];
  if (!existsSync(dist)) return removed;
  for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const source = sourceOf(path.relative(dist, file));
    if (source !== undefined && !existsSync(path.join(root, source))) {
      rmSync(file);
      removed.push(path.relative(root, file));
    }
  }
  return removed.sort();
}

if (require.main === module) {
  const at = process.argv.indexOf("--root");
  const root = at === -1 ? path.resolve(__dirname, "..", "..") : path.resolve(process.argv[at + 1] ?? ".");
  const removed = pruneDist(root);
  if (removed.length > 0) process.stdout.write(`prune-dist: removed ${removed.length} compiled file(s) without a source: ${removed.join(", ")}\n`);
}
