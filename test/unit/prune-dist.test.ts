import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { pruneDist, sourceOf } from "../../scripts/prune-dist";

describe("prune-dist (prepack)", () => {
  it.each([
    ["provider/index.js", "provider/index.ts"],
    ["provider/index.d.ts", "provider/index.ts"],
    ["provider/index.js.map", "provider/index.ts"],
    ["provider/index.d.ts.map", "provider/index.ts"],
    ["server/routes/api.js", "server/routes/api.ts"],
    ["tsbuildinfo", undefined],
    ["provider/data.json", undefined],
  ])("maps the compiled file %s to its source %s", (compiled, source) => {
    expect(sourceOf(compiled)).toBe(source);
  });

  it("removes the outputs of a deleted source and keeps every other file", () => {
    const root = mkdtempSync(path.join(tmpdir(), "klarefi-prune-"));
    try {
      mkdirSync(path.join(root, "provider"), { recursive: true });
      mkdirSync(path.join(root, "dist", "provider", "old"), { recursive: true });
      writeFileSync(path.join(root, "provider", "kept.ts"), "");
      for (const file of ["kept.js", "kept.d.ts", "kept.js.map", "gone.js", "gone.d.ts", "gone.js.map", "old/deep.js", "notes.txt"]) {
        writeFileSync(path.join(root, "dist", "provider", file), "");
      }
      expect(pruneDist(root)).toEqual([
        path.join("dist", "provider", "gone.d.ts"),
        path.join("dist", "provider", "gone.js"),
        path.join("dist", "provider", "gone.js.map"),
        path.join("dist", "provider", "old", "deep.js"),
      ]);
      expect(readdirSync(path.join(root, "dist", "provider")).sort()).toEqual(["kept.d.ts", "kept.js", "kept.js.map", "notes.txt", "old"]);
      expect(pruneDist(root)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
