/**
 * @module
 * The one place that turns a zod issue into the sentence people see, so the
 * server, the client, the provider's `check` and the campaign rows word the
 * same problem the same way: a missing field is "X is required", anything
 * else is the rule's own message (the rules in fields.ts name their field).
 */
import type { z } from "zod";

/** One field's problem: the field (top-level key, or "" for the whole value) and the sentence. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * The sentence for one issue. `input` is the value that was parsed: a field
 * absent from it is reported as "<path> is required". A zod built-in message
 * (capitalised, naming nothing, e.g. "Invalid option: …") gets the field's
 * name in front so it still says which field is wrong.
 */
export function issueMessage(issue: z.core.$ZodIssue, input: unknown): string {
  const label = issue.path.map(String).join(".");
  if (label !== "" && issue.code === "invalid_type" && valueAt(input, issue.path) === undefined) {
    return `${label} is required`;
  }
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.map((k) => (k.length > 64 ? `${k.slice(0, 64)}…` : k));
    return `unknown field${keys.length === 1 ? "" : "s"}: ${keys.join(", ")}`;
  }
  if (label !== "" && /^[A-Z]/.test(issue.message)) return `${label}: ${issue.message}`;
  return issue.message;
}

/**
 * One problem per top-level field, in the order zod found them (the first
 * issue of each field), each worded by `issueMessage`.
 */
export function fieldProblems(error: z.ZodError, input: unknown): FieldProblem[] {
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    const field = issue.path.length === 0 ? "" : String(issue.path[0]);
    if (seen.has(field)) continue;
    seen.add(field);
    problems.push({ field, message: issueMessage(issue, input) });
  }
  return problems;
}

/** The first problem of an error (an unknown field first, as the API reports it), or undefined when it has none. */
export function firstProblem(error: z.ZodError, input: unknown): FieldProblem | undefined {
  const issue = error.issues.find((i) => i.code === "unrecognized_keys") ?? error.issues[0];
  if (issue === undefined) return undefined;
  const field = issue.code === "unrecognized_keys" ? (issue.keys[0] ?? "") : issue.path.length === 0 ? "" : String(issue.path[0]);
  return { field, message: issueMessage(issue, input) };
}

/** The value at `path` inside `value`, or undefined when any step is missing. */
export function valueAt(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** `ENOENT` → "it does not exist (ENOENT)": why a file cannot be read, in words. */
export function unreadableFileReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const words: Record<string, string> = {
    ENOENT: "it does not exist",
    EACCES: "permission denied",
    EISDIR: "it is a folder",
  };
  if (code === undefined) return String(error);
  const said = words[code];
  return said === undefined ? code : `${said} (${code})`;
}
