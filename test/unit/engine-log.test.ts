import { afterEach, describe, expect, it, vi } from "vitest";
import { engineProgress, formatDuration, progressLine, progressReporter } from "../../provider/engine-log";

afterEach(() => {
  vi.useRealTimers();
});

describe("progress lines", () => {
  it("reports done/total every period while an operation runs, and once at the end of a long one", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const progress = progressReporter({ info: (line) => void lines.push(line) }, "hail", 5000, 3000);
    for (let i = 0; i < 1200; i++) progress.tick();
    vi.advanceTimersByTime(3000);
    for (let i = 0; i < 3800; i++) progress.tick();
    vi.advanceTimersByTime(500);
    progress.stop();
    expect(lines).toEqual(["hail: 1,200/5,000 links, 400/s, ETA 10s", "hail: 5,000/5,000 links, 1,429/s"]);
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2);
  });

  it("counts failed and never started rows apart from the links made", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const progress = progressReporter({ info: (line) => void lines.push(line) }, "hail", 2000, 3000);
    for (let i = 0; i < 16; i++) progress.tick({ ok: false });
    for (let i = 0; i < 1984; i++) progress.tick({ ok: false, notAttempted: true });
    vi.advanceTimersByTime(3000);
    progress.stop();
    expect(lines[0]).toBe("hail: 0/2,000 links (16 failed, 1,984 not attempted), 5.3/s");
    expect(lines.join("\n")).not.toContain("2,000/2,000");
  });

  it.each([
    [{ done: 1200, failed: 3, notAttempted: 0, elapsedMs: 12_276 }, "hail-2027: 1,200/20,000 links (3 failed), 98/s, ETA 3m 12s"],
    [{ done: 0, failed: 0, notAttempted: 0, elapsedMs: 3000 }, "hail-2027: 0/20,000 links"],
    [{ done: 20, failed: 0, notAttempted: 0, elapsedMs: 4000 }, "hail-2027: 20/20,000 links, 5/s, ETA 1h 06m"],
    [{ done: 19_990, failed: 10, notAttempted: 0, elapsedMs: 200_000 }, "hail-2027: 19,990/20,000 links (10 failed), 100/s"],
  ])("progress %j reads %s", (counts, expected) => {
    expect(progressLine({ label: "hail-2027", total: 20_000, ...counts })).toBe(expected);
  });

  it.each([
    [0, "0s"],
    [45_400, "45s"],
    [192_000, "3m 12s"],
    [3_725_000, "1h 02m"],
  ])("%i ms reads %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("says nothing for a short operation", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const progress = progressReporter({ info: (line) => void lines.push(line) }, "hail", 3, 3000);
    progress.tick();
    progress.stop();
    expect(lines).toEqual([]);
  });

  it("drops lines outside the dynamic-provider host instead of failing", () => {
    expect(() => engineProgress(["node", "/usr/bin/vitest", "127.0.0.1:1"]).info("x")).not.toThrow();
  });
});
