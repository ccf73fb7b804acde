import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/pulumi";

/** The package's TypeScript modules under `dirs`. */
function modules(dirs: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith(".ts") && !file.endsWith(".d.ts")) files.push(file);
    }
  };
  for (const dir of dirs) walk(path.join(repoRoot, dir));
  return files;
}

/** The package modules `file` imports or re-exports from, type-only imports included. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const targets: string[] = [];
  for (const match of source.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)) {
    const base = path.resolve(path.dirname(file), match[1] as string);
    const target = [`${base}.ts`, path.join(base, "index.ts")].find((candidate) => existsSync(candidate));
    if (target !== undefined) targets.push(target);
  }
  return targets;
}

/** Every import cycle found by a depth-first walk, as `a.ts -> b.ts -> a.ts`. */
function importCycles(files: readonly string[]): string[] {
  const graph = new Map(files.map((file) => [file, importsOf(file)]));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, stack: string[]) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => path.relative(repoRoot, f)).join(" -> "));
      else if (state.get(next) === undefined) visit(next, stack);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of files) if (state.get(file) === undefined) visit(file, []);
  return cycles;
}

describe("the package's modules", () => {
  it("import each other without a cycle, type-only imports included (rows.ts no longer imports component.ts)", () => {
    expect(importCycles(modules(["provider", "contract", "client", "server", "cli"]))).toEqual([]);
  });
});
