import { describe, expect, it } from "vitest";
import { KlarefiApiError, KlarefiConnectionError, KlarefiTimeoutError } from "../../client/errors";
import type { NetworkFailure } from "../../client/retry";
import {
  appliedCounts,
  appliedSummary,
  campaignFailureMessage,
  CONNECTION_FAILURES_IN_A_ROW,
  ConnectionBreaker,
  groupReasons,
  KEPT_COMPLETED,
  revokeFailureMessage,
  rowFailure,
  runRows,
} from "../../provider/campaign/links/outcome";

const refused = () =>
  new KlarefiConnectionError(
    "Creating intake session failed: could not reach http://127.0.0.1:4011 (ECONNREFUSED) (1 attempt); check stack config klarefi:baseUrl and that the API is up",
    { operation: "Creating intake session", failure: "refused" },
  );
const connection = (failure: NetworkFailure) => new KlarefiConnectionError(`could not reach (${failure})`, { operation: "x", failure });
const serverError = (id: number) =>
  new KlarefiApiError(`Creating intake session failed: 500 internal error (request req_${id})`, { operation: "Creating intake session", status: 500 });

describe("the connection breaker", () => {
  const table: Array<[string, unknown, boolean]> = [
    ["a refused connection", connection("refused"), true],
    ["an unknown host", connection("dns"), true],
    ["a TLS failure", connection("tls"), true],
    ["a reset connection", connection("reset"), true],
    ["no route to the host", connection("unreachable"), true],
    ["a connect timeout", new KlarefiTimeoutError("x", { operation: "x", failure: "connect-timeout" }), true],
    ["a slow answer", new KlarefiTimeoutError("x", { operation: "x", failure: "timeout" }), false],
    ["a call the caller aborted", new KlarefiConnectionError("aborted", { operation: "x" }), false],
    ["a 500 answer", serverError(1), false],
    ["a plain error", new Error("boom"), false],
  ];
  it.each(table)("counts %s as the API being unreachable: %s", (_what, error, counts) => {
    const breaker = new ConnectionBreaker(2);
    breaker.record({ ok: false, error });
    breaker.record({ ok: false, error });
    expect(breaker.open).toBe(counts);
  });

  it("opens only after the limit of unreachable rows in a row; an answer in between starts the count again", () => {
    const breaker = new ConnectionBreaker(3);
    breaker.record({ ok: false, error: refused() });
    breaker.record({ ok: false, error: refused() });
    breaker.record({ ok: false, error: serverError(1) });
    breaker.record({ ok: false, error: refused() });
    breaker.record({ ok: false, error: refused() });
    expect(breaker.open).toBe(false);
    breaker.record({ ok: true });
    for (let i = 0; i < 3; i++) breaker.record({ ok: false, error: refused() });
    expect(breaker.open).toBe(true);
    expect(breaker.reason).toMatch(/^the Klarefi API could not be reached for 3 rows in a row, so no further rows were started; the last: .*ECONNREFUSED/);
  });
});

describe("runRows", () => {
  const items = Array.from({ length: 2000 }, (_, i) => `c${i}`);

  it("stops starting rows after 10 unreachable rows in a row and returns the rest as not attempted, in order", async () => {
    let started = 0;
    const settled: Array<{ ok: boolean; notAttempted?: boolean }> = [];
    const breaker = new ConnectionBreaker();
    const results = await runRows(
      items,
      async () => {
        started++;
        await new Promise((r) => setImmediate(r));
        throw refused();
      },
      { concurrency: 16, breaker, onSettled: (s) => settled.push(s) },
    );
    expect(CONNECTION_FAILURES_IN_A_ROW).toBe(10);
    expect(started).toBeGreaterThanOrEqual(10);
    expect(started).toBeLessThanOrEqual(10 + 16);
    expect(results.map((r) => r.item)).toEqual(items);
    const notAttempted = results.filter((r) => !r.ok && r.notAttempted);
    expect(notAttempted).toHaveLength(2000 - started);
    expect(settled.filter((s) => s.notAttempted)).toHaveLength(2000 - started);
    expect(settled).toHaveLength(2000);
    // A later stage of the same run starts nothing.
    let later = 0;
    const next = await runRows(["x", "y"], async () => later++, { concurrency: 4, breaker });
    expect(later).toBe(0);
    expect(next.every((r) => !r.ok && r.notAttempted)).toBe(true);
  });

  it("runs every row when the API answers, even with errors, never more than the concurrency at once", async () => {
    let inFlight = 0;
    let peak = 0;
    const breaker = new ConnectionBreaker();
    const results = await runRows(
      items.slice(0, 200),
      async (item) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        if (Number(item.slice(1)) % 2 === 0) throw serverError(Number(item.slice(1)));
        return item;
      },
      { concurrency: 8, breaker },
    );
    expect(peak).toBe(8);
    expect(breaker.open).toBe(false);
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    expect(results.filter((r) => !r.ok && !r.notAttempted)).toHaveLength(100);
  });
});

describe("the failure message of a bulk run", () => {
  it("groups 2,000 identical reasons into one line and counts the rows never started apart", async () => {
    const breaker = new ConnectionBreaker();
    const results = await runRows(
      Array.from({ length: 2000 }, (_, i) => `hail_${i + 1}`),
      async () => {
        throw refused();
      },
      { concurrency: 16, breaker },
    );
    const failures = results.flatMap((r) => (r.ok ? [] : [rowFailure(r.item, r)]));
    const failed = failures.filter((f) => !f.notAttempted).length;
    const message = campaignFailureMessage("hail-2027", "create", 2000, failures);
    const lines = message.split("\n");
    expect(lines[0]).toBe(
      `Provisioning campaign hail-2027: ${failed} of 2,000 links failed and ${(2000 - failed).toLocaleString("en-US")} were not attempted ` +
        "(the Klarefi API could not be reached for 10 rows in a row, so no further rows were started); " +
        "the others are recorded in the stack, and the next `pulumi up` does only what is left:",
    );
    expect(lines[1]).toBe(
      `  - ${failed} rows (hail_1, hail_2, hail_3, and ${failed - 3} more): Creating intake session failed: could not reach http://127.0.0.1:4011 (ECONNREFUSED) (1 attempt); check stack config klarefi:baseUrl and that the API is up`,
    );
    expect(lines[2]).toBe(`  - ${(2000 - failed).toLocaleString("en-US")} rows not attempted (hail_${failed + 1}, hail_${failed + 2}, hail_${failed + 3}, and ${(2000 - failed - 3).toLocaleString("en-US")} more)`);
    expect(lines).toHaveLength(3);
  });

  it("lists a reason of one row with its case id, and counts reasons that differ only in the request id as one", () => {
    const failures = [
      rowFailure("c1", { error: serverError(1) }),
      rowFailure("c2", { error: new Error("gave up after 5 idempotency keys") }),
      rowFailure("c3", { error: serverError(3) }),
    ];
    expect(groupReasons(failures)).toEqual([
      { reason: "Creating intake session failed: 500 internal error (request req_1)", caseIds: ["c1", "c3"] },
      { reason: "gave up after 5 idempotency keys", caseIds: ["c2"] },
    ]);
    expect(campaignFailureMessage("storm", "update", 24, failures)).toBe(
      "Updating campaign storm: 3 of 24 links failed; the others are recorded in the stack, and the next `pulumi up` does only what is left:\n" +
        "  - 2 rows (c1, c3): Creating intake session failed: 500 internal error (request req_1)\n" +
        "  - c2: gave up after 5 idempotency keys",
    );
  });

  it("lists at most 20 reasons and sums up the rest", () => {
    const failures = Array.from({ length: 25 }, (_, i) => ({ caseId: `c${i}`, reason: `reason ${i}` }));
    const lines = campaignFailureMessage("x", "create", 25, failures).split("\n");
    expect(lines).toHaveLength(22);
    expect(lines[21]).toBe("  - and 5 rows with 5 other reasons");
  });
});

describe("the failure message of a destroy", () => {
  it("counts the revokes not attempted apart and groups the reasons", () => {
    const failures = [
      ...Array.from({ length: 10 }, (_, i) => rowFailure(`c${i}`, { error: refused() })),
      ...Array.from({ length: 5 }, (_, i) => rowFailure(`d${i}`, { error: new Error("not attempted: the Klarefi API could not be reached for 10 rows in a row, so no further rows were started; the last: x"), notAttempted: true })),
    ];
    expect(revokeFailureMessage("hail", 15, failures).split("\n")).toEqual([
      "Revoking campaign hail: 10 of 15 links failed and 5 were not attempted (the Klarefi API could not be reached for 10 rows in a row, so no further rows were started); " +
        "the campaign stays in the stack and `pulumi destroy` again revokes what is left:",
      `  - 10 rows (c0, c1, c2, and 7 more): ${refused().message}`,
      "  - 5 rows not attempted (d0, d1, d2, and 2 more)",
    ]);
  });
});

describe("the line that says what a bulk run did", () => {
  const ok = (value?: unknown) => ({ ok: true, value });
  const failed = { ok: false };
  const skipped = { ok: false, notAttempted: true };

  it("counts each stage's successes, completed rows kept, failures and rows not attempted", () => {
    const counts = appliedCounts({
      reissue: [ok(), ok(KEPT_COMPLETED), failed],
      create: [...Array.from({ length: 1998 }, () => ok()), failed, skipped],
      extend: [],
      revoke: [ok()],
      keptCompleted: 3,
      forgotten: 0,
    });
    expect(counts).toEqual({ created: 1998, reissued: 1, extended: 0, revoked: 1, keptCompleted: 4, forgotten: 0, failed: 2, notAttempted: 1 });
    expect(appliedSummary("hail-2027", counts)).toBe("hail-2027: created 1,998, reissued 1, extended 0, revoked 1, kept 4 completed; 2 failed, 1 not attempted");
  });

  it.each([
    [{ created: 2000, reissued: 0, extended: 0, revoked: 0, keptCompleted: 0, forgotten: 0, failed: 0, notAttempted: 0 }, "hail: created 2,000, reissued 0, extended 0, revoked 0"],
    [{ created: 0, reissued: 0, extended: 5, revoked: 0, keptCompleted: 0, forgotten: 2, failed: 0, notAttempted: 0 }, "hail: created 0, reissued 0, extended 5, revoked 0, forgot 2 (links left working)"],
    [{ created: 0, reissued: 0, extended: 0, revoked: 0, keptCompleted: 0, forgotten: 0, failed: 16, notAttempted: 1984 }, "hail: created 0, reissued 0, extended 0, revoked 0; 16 failed, 1,984 not attempted"],
  ])("%j reads %s", (counts, line) => {
    expect(appliedSummary("hail", counts)).toBe(line);
  });
});
