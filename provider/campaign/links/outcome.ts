/**
 * @module
 * What a bulk campaign run does with its rows and how it reports them:
 *
 * - {@link runRows}: runs one stage's rows at a fixed concurrency, and stops
 *   starting rows once a {@link ConnectionBreaker} has seen the API
 *   unreachable for {@link CONNECTION_FAILURES_IN_A_ROW} rows in a row (a
 *   2,000-row campaign against a wrong base URL fails in well under a second
 *   instead of trying every row);
 * - {@link campaignFailureMessage}: the error of a run where rows failed,
 *   with identical reasons grouped and the rows never started counted apart;
 * - {@link appliedSummary}: the one line that says what a run did.
 *
 * Pure functions and a small runner without I/O, so that they are
 * table-tested (test/unit/campaign-outcome.test.ts).
 */
import { isConnectionFailure } from "../../../client/retry";

/** After this many rows in a row fail because the API cannot be reached, no further row is started. */
export const CONNECTION_FAILURES_IN_A_ROW = 10;

/** The most reason groups a failure message lists one by one. */
export const MAX_LISTED_GROUPS = 20;

/** The most case ids a group names before "and N more". */
const MAX_NAMED_ROWS = 3;

const count = (n: number) => n.toLocaleString("en-US");
const rows = (n: number) => `${count(n)} row${n === 1 ? "" : "s"}`;

/**
 * Counts rows that failed because the API cannot be reached (refused, reset,
 * DNS, TLS, no route, connect timeout: `isConnectionFailure` of the client).
 * Any answer of the API, even an error, or a failure of another kind resets
 * the count: the API is there. Once the count reaches `limit` the breaker is
 * open for the rest of the run, so every later stage starts nothing either.
 */
export class ConnectionBreaker {
  readonly limit: number;
  #inARow = 0;
  #open = false;
  #last: unknown;
  #cancelled: string | undefined;

  constructor(limit: number = CONNECTION_FAILURES_IN_A_ROW) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the breaker's limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  /** Records how one row ended. */
  record(settled: { ok: true } | { ok: false; error: unknown }): void {
    if (!settled.ok && isConnectionFailure(settled.error)) {
      this.#inARow++;
      this.#last = settled.error;
      if (this.#inARow >= this.limit) this.#open = true;
    } else {
      this.#inARow = 0;
    }
  }

  /** True once `limit` rows in a row found the API unreachable: start no more rows. */
  get open(): boolean {
    return this.#open;
  }

  /** Opens the breaker for another reason than the network (the engine's cancel): no further rows start. */
  cancel(reason: string): void {
    this.#cancelled = reason;
    this.#open = true;
  }

  /** Why rows were not started, for messages (only meaningful once open). */
  get reason(): string {
    if (this.#cancelled !== undefined) return this.#cancelled;
    const last = this.#last instanceof Error ? `; the last: ${this.#last.message}` : "";
    return `the Klarefi API could not be reached for ${this.limit} rows in a row, so no further rows were started${last}`;
  }
}

/** The error a row that was never started carries, so that callers handling `error` keep working. */
export class RowNotAttemptedError extends Error {
  override name = "RowNotAttemptedError";
  constructor(breaker: ConnectionBreaker) {
    super(`not attempted: ${breaker.reason}`);
  }
}

/** How one row of a stage ended. */
export type RowResult<T, R> =
  | { item: T; ok: true; value: R }
  | { item: T; ok: false; error: unknown; notAttempted?: false }
  | { item: T; ok: false; error: RowNotAttemptedError; notAttempted: true };

/**
 * Rows a bulk stage keeps in flight: twice the client's request cap, so the
 * cap stays busy while rows between two calls (a reissue reads, creates, then
 * revokes) wait for their next one; 16 when the cap is unknown.
 */
export function rowConcurrency(maxConcurrency: number | undefined): number {
  return maxConcurrency !== undefined && Number.isInteger(maxConcurrency) && maxConcurrency > 0 ? maxConcurrency * 2 : 16;
}

export interface RunRowsOptions {
  /** Rows in flight at most. The client's semaphore still caps the requests. */
  concurrency: number;
  /** Shared by every stage of one run. */
  breaker: ConnectionBreaker;
  /** Hears how every row ended, the ones never started included (for progress). */
  onSettled?: (settled: { ok: boolean; notAttempted?: boolean }) => void;
}

/**
 * Runs `task` for every item, at most `concurrency` at once, and returns how
 * each ended, in the order of `items`. A row is started only while the
 * breaker is closed; once it opens, the rows left are returned as not
 * attempted (their state stays as it was, so the next run does them).
 * Rows already in flight finish, and a worker whose row failed before the
 * breaker opened may start one more: against an API that is down, at most
 * `limit + concurrency - 1` rows are tried (25 at the provider's defaults).
 */
export async function runRows<T, R>(items: readonly T[], task: (item: T) => Promise<R>, options: RunRowsOptions): Promise<RowResult<T, R>[]> {
  const { breaker, onSettled } = options;
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
  }
  const results = new Array<RowResult<T, R>>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      const item = items[index] as T;
      if (breaker.open) {
        results[index] = { item, ok: false, error: new RowNotAttemptedError(breaker), notAttempted: true };
        onSettled?.({ ok: false, notAttempted: true });
        continue;
      }
      try {
        const value = await task(item);
        results[index] = { item, ok: true, value };
        breaker.record({ ok: true });
      } catch (error) {
        results[index] = { item, ok: false, error };
        breaker.record({ ok: false, error });
      }
      onSettled?.({ ok: results[index].ok });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, Math.max(1, items.length)) }, worker));
  return results;
}

/** A row that did not get what the plan asked for. */
export interface RowFailure {
  caseId: string;
  reason: string;
  /** Never started: the breaker was open. */
  notAttempted?: boolean;
}

/** The failure of a row result, for {@link campaignFailureMessage}. */
export function rowFailure(caseId: string, result: { error: unknown; notAttempted?: boolean }): RowFailure {
  const reason = result.error instanceof Error ? result.error.message : String(result.error);
  return result.notAttempted === true || result.error instanceof RowNotAttemptedError ? { caseId, reason, notAttempted: true } : { caseId, reason };
}

/** Failed rows that share one reason. */
export interface ReasonGroup {
  reason: string;
  caseIds: string[];
}

const REQUEST_ID = / \(request [^\s)]+\)/g;

/**
 * Groups failures by reason, most rows first (ties in order of first
 * appearance). Reasons that differ only in the request id the API gave each
 * call count as one; a group keeps its first row's full reason, request id
 * included, to quote to support.
 */
export function groupReasons(failures: readonly RowFailure[]): ReasonGroup[] {
  const groups = new Map<string, ReasonGroup>();
  for (const f of failures) {
    const key = f.reason.replace(REQUEST_ID, "");
    const group = groups.get(key);
    if (group) group.caseIds.push(f.caseId);
    else groups.set(key, { reason: f.reason, caseIds: [f.caseId] });
  }
  return [...groups.values()].sort((a, b) => b.caseIds.length - a.caseIds.length);
}

function named(caseIds: readonly string[]): string {
  const shown = caseIds.slice(0, MAX_NAMED_ROWS).join(", ");
  return caseIds.length > MAX_NAMED_ROWS ? `${shown}, and ${count(caseIds.length - MAX_NAMED_ROWS)} more` : shown;
}

/**
 * The lines that list failed rows: one per distinct reason
 * (`  - 2,000 rows (c1, c2, c3, and 1,997 more): <reason>`; a reason of one
 * row reads `  - c7: <reason>`), at most {@link MAX_LISTED_GROUPS}, then the
 * rows not attempted in one line.
 */
export function failureLines(failures: readonly RowFailure[]): string[] {
  const skipped = failures.filter((f) => f.notAttempted === true);
  const groups = groupReasons(failures.filter((f) => f.notAttempted !== true));
  const lines = groups.slice(0, MAX_LISTED_GROUPS).map((g) => (g.caseIds.length === 1 ? `  - ${g.caseIds[0]}: ${g.reason}` : `  - ${rows(g.caseIds.length)} (${named(g.caseIds)}): ${g.reason}`));
  if (groups.length > MAX_LISTED_GROUPS) {
    const rest = groups.slice(MAX_LISTED_GROUPS).reduce((n, g) => n + g.caseIds.length, 0);
    lines.push(`  - and ${rows(rest)} with ${count(groups.length - MAX_LISTED_GROUPS)} other reasons`);
  }
  if (skipped.length > 0) lines.push(`  - ${rows(skipped.length)} not attempted (${named(skipped.map((f) => f.caseId))})`);
  return lines;
}

/** `N of M links failed` and, when rows were never started, `and K were not attempted (why)`. */
function failedCounts(planned: number, failures: readonly RowFailure[]): string {
  const skipped = failures.filter((f) => f.notAttempted === true);
  const failed = failures.length - skipped.length;
  const why = skipped.length === 0 ? "" : (skipped[0] as RowFailure).reason.replace(/^not attempted: /, "").replace(/; the last: .*$/s, "");
  return `${count(failed)} of ${count(planned)} links failed${skipped.length === 0 ? "" : ` and ${count(skipped.length)} were not attempted (${why})`}`;
}

/**
 * The error of a bulk run in which rows failed or were not started: one head
 * sentence with the counts, then {@link failureLines}.
 */
export function campaignFailureMessage(label: string, operation: "create" | "update", planned: number, failures: readonly RowFailure[]): string {
  const head = `${operation === "create" ? "Provisioning" : "Updating"} campaign ${label}: ${failedCounts(planned, failures)}`;
  return `${head}; the others are recorded in the stack, and the next \`pulumi up\` does only what is left:\n${failureLines(failures).join("\n")}`;
}

/** The error of a destroy in which revokes failed or were not started. */
export function revokeFailureMessage(label: string, planned: number, failures: readonly RowFailure[]): string {
  return (
    `Revoking campaign ${label}: ${failedCounts(planned, failures)}; the campaign stays in the stack and ` +
    `\`pulumi destroy\` again revokes what is left:\n${failureLines(failures).join("\n")}`
  );
}

/** What a bulk run did, row by row. */
export interface AppliedCounts {
  created: number;
  reissued: number;
  extended: number;
  revoked: number;
  /** Completed rows left as they are (the plan's, plus reissues whose applicant completed meanwhile). */
  keptCompleted: number;
  /** Rows dropped from the stack with their links left working (`retainOnDelete`). */
  forgotten: number;
  failed: number;
  notAttempted: number;
}

/** What a reissue task returns when the live session turned out completed and was kept. */
export const KEPT_COMPLETED = "kept-completed";

type AnyResult = { ok: boolean; notAttempted?: boolean; value?: unknown };

/** Counts a run's stage results into {@link AppliedCounts}. */
export function appliedCounts(stages: {
  reissue: readonly AnyResult[];
  create: readonly AnyResult[];
  extend: readonly AnyResult[];
  revoke: readonly AnyResult[];
  keptCompleted: number;
  forgotten: number;
}): AppliedCounts {
  const ok = (results: readonly AnyResult[]) => results.filter((r) => r.ok && r.value !== KEPT_COMPLETED).length;
  const all = [...stages.reissue, ...stages.create, ...stages.extend, ...stages.revoke];
  return {
    created: ok(stages.create),
    reissued: ok(stages.reissue),
    extended: ok(stages.extend),
    revoked: ok(stages.revoke),
    keptCompleted: stages.keptCompleted + stages.reissue.filter((r) => r.ok && r.value === KEPT_COMPLETED).length,
    forgotten: stages.forgotten,
    failed: all.filter((r) => !r.ok && r.notAttempted !== true).length,
    notAttempted: all.filter((r) => r.notAttempted === true).length,
  };
}

/**
 * The line a bulk run logs at its end:
 * `hail-2027: created 1,998, reissued 1, extended 0, revoked 1, kept 3 completed`,
 * with `forgot N (links left working)`, `N failed` and `N not attempted`
 * added when there are any.
 */
export function appliedSummary(label: string, c: AppliedCounts): string {
  const parts = [`created ${count(c.created)}`, `reissued ${count(c.reissued)}`, `extended ${count(c.extended)}`, `revoked ${count(c.revoked)}`];
  if (c.keptCompleted > 0) parts.push(`kept ${count(c.keptCompleted)} completed`);
  if (c.forgotten > 0) parts.push(`forgot ${count(c.forgotten)} (links left working)`);
  const problems = [...(c.failed > 0 ? [`${count(c.failed)} failed`] : []), ...(c.notAttempted > 0 ? [`${count(c.notAttempted)} not attempted`] : [])];
  return `${label}: ${parts.join(", ")}${problems.length > 0 ? `; ${problems.join(", ")}` : ""}`;
}
