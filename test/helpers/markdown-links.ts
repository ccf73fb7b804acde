/**
 * @module
 * The relative links of the Markdown pages this package ships (README.md and
 * docs/*.md), and whether each one lands: on a file the tarball holds, and on
 * a heading of that file when it names an anchor. Used by
 * test/unit/doc-links.test.ts (against package.json `files`) and
 * test/e2e/package.test.ts (against the packed tarball).
 */

/** One link of a page: its target path (resolved from the repository root, no anchor) and anchor. */
export interface MarkdownLink {
  /** The link as written, e.g. `campaigns.md#team-backends`. */
  raw: string;
  /** The target file, relative to the repository root with `/` separators; the page itself for `#anchor`. */
  file: string;
  /** The anchor after `#`, if any. */
  anchor: string | undefined;
}

/** The text of a page without fenced code blocks (their `#` lines are not headings, their brackets not links). */
function withoutCodeBlocks(markdown: string): string {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const match = /^\s*(`{3,}|~{3,})/.exec(line);
    if (match?.[1] !== undefined) {
      if (fence === undefined) fence = match[1];
      else if (match[1].startsWith(fence)) fence = undefined;
      out.push("");
      continue;
    }
    out.push(fence === undefined ? line : "");
  }
  return out.join("\n");
}

/** Joins `base`'s folder and `target` the way a browser resolves a relative link, with `/` separators. */
function resolveRelative(page: string, target: string): string {
  const parts = page.split("/").slice(0, -1);
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

/**
 * The relative links of `markdown`, a page at `page` (repository-relative,
 * `/` separators). Links with a scheme (`https:`, `mailto:`) are left out:
 * they do not depend on what the tarball holds.
 */
export function relativeLinks(page: string, markdown: string): MarkdownLink[] {
  const text = withoutCodeBlocks(markdown).replace(/`[^`\n]*`/g, "");
  const links: MarkdownLink[] = [];
  for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const raw = match[1] ?? "";
    if (/^[a-z][a-z0-9+.-]*:/i.test(raw)) continue;
    const [target = "", anchor] = raw.split("#", 2);
    links.push({ raw, file: target === "" ? page : resolveRelative(page, target), anchor: anchor === undefined || anchor === "" ? undefined : anchor });
  }
  return links;
}

/**
 * The anchors GitHub (and npm's renderer) give the headings of `markdown`:
 * lower case, punctuation other than `-` and `_` dropped, spaces to `-`, and
 * `-1`, `-2`, … after repeats.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCodeBlocks(markdown).split("\n")) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/**
 * Whether `file` (repository-relative) is shipped by a package.json `files`
 * list, as npm reads it for these shapes of entry: a folder (`bin/`), a path,
 * or a glob with `*` and `**`. package.json, README and LICENSE always ship.
 */
export function shippedBy(files: readonly string[], file: string): boolean {
  if (["package.json", "README.md", "LICENSE"].includes(file)) return true;
  return files.some((entry) => {
    if (entry.endsWith("/")) return file.startsWith(entry);
    if (!entry.includes("*")) return file === entry || file.startsWith(`${entry}/`);
    const pattern = entry
      .split(/(\*\*\/|\*)/)
      .map((part) => (part === "**/" ? "(?:.*/)?" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
      .join("");
    return new RegExp(`^${pattern}$`).test(file);
  });
}
