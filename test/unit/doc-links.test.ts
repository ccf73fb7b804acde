import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { headingAnchors, relativeLinks, shippedBy } from "../helpers/markdown-links";

// The README and the docs pages ship in the npm package; a link in them that
// points at a file the tarball does not hold is broken for every user who
// reads them from node_modules or on the registry's page.

const repoRoot = path.resolve(__dirname, "..", "..");
const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");
const files = (JSON.parse(read("package.json")) as { files: string[] }).files;
const docPages = readdirSync(path.join(repoRoot, "docs"))
  .filter((name) => name.endsWith(".md"))
  .map((name) => `docs/${name}`)
  .sort();

describe("the Markdown link helpers", () => {
  it("resolve relative links from the page's folder, keep anchors, and leave out absolute URLs and code", () => {
    const page = [
      "See [a](getting-started.md#the-demo), [b](../README.md), [c](#local), [d](https://example.com/x.md).",
      "`[not a link](nowhere.md)`",
      "```md",
      "[also not](nowhere.md)",
      "```",
    ].join("\n");
    expect(relativeLinks("docs/operations.md", page)).toEqual([
      { raw: "getting-started.md#the-demo", file: "docs/getting-started.md", anchor: "the-demo" },
      { raw: "../README.md", file: "README.md", anchor: undefined },
      { raw: "#local", file: "docs/operations.md", anchor: "local" },
    ]);
  });

  it.each([
    ["### `PULUMI_SKIP_CHECKPOINTS`", "pulumi_skip_checkpoints"],
    ["### An interrupted `pulumi up` and pending operations", "an-interrupted-pulumi-up-and-pending-operations"],
    ["## The campaign owner's day", "the-campaign-owners-day"],
    ["### 3.3 `PATCH /api/v1/sessions/{id}`: move an open session's expiry (assumption)", "33-patch-apiv1sessionsid-move-an-open-sessions-expiry-assumption"],
  ])("gives the heading %s the anchor %s", (heading, anchor) => {
    expect([...headingAnchors(heading)]).toEqual([anchor]);
  });

  it("numbers repeated headings and ignores # lines inside code blocks", () => {
    expect([...headingAnchors("## Go\n\n```sh\n# at the repository root\n```\n## Go\n")]).toEqual(["go", "go-1"]);
  });

  it.each([
    ["docs/campaigns.md", ["docs/*.md"], true],
    ["docs/bench/p500.json", ["docs/*.md"], false],
    ["docs/campaigns.md", ["docs/klarefi-api.md"], false],
    ["dist/provider/index.js", ["dist/provider/**/*.js"], true],
    ["dist/provider/index.js.map", ["dist/provider/**/*.js"], false],
    ["bin/klarefi.js", ["bin/"], true],
    ["README.md", [], true],
    ["examples/campaign", ["docs/*.md"], false],
  ])("decides that %s is shipped by files %j: %s", (file, entries, shipped) => {
    expect(shippedBy(entries, file)).toBe(shipped);
  });
});

describe("the README and the docs pages as the npm package ships them", () => {
  it("has a README of at most 150 lines", () => {
    expect(read("README.md").trimEnd().split("\n").length).toBeLessThanOrEqual(150);
  });

  it("ships every page of docs/ with the README", () => {
    expect(docPages.filter((page) => !shippedBy(files, page))).toEqual([]);
  });

  it("has no relative link to a missing file, a file outside the package, or a heading that does not exist", () => {
    const broken: string[] = [];
    for (const page of ["README.md", ...docPages]) {
      for (const link of relativeLinks(page, read(page))) {
        const where = `${page}: (${link.raw})`;
        if (!existsSync(path.join(repoRoot, link.file))) broken.push(`${where} ${link.file} does not exist`);
        else if (!shippedBy(files, link.file)) broken.push(`${where} ${link.file} is not in package.json files`);
        else if (link.anchor !== undefined) {
          if (!link.file.endsWith(".md")) broken.push(`${where} an anchor into a file that is not Markdown`);
          else if (!headingAnchors(read(link.file)).has(link.anchor)) broken.push(`${where} ${link.file} has no heading #${link.anchor}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("lists every docs page in the docs index and in the README's table of the docs", () => {
    const pages = docPages.filter((page) => page !== "docs/README.md");
    const linked = (page: string) => new Set(relativeLinks(page, read(page)).map((link) => link.file));
    const inIndex = linked("docs/README.md");
    const inReadme = linked("README.md");
    expect(pages.filter((page) => !inIndex.has(page))).toEqual([]);
    expect(pages.filter((page) => !inReadme.has(page))).toEqual([]);
  });
});
