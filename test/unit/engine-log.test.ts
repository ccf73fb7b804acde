import { afterEach, describe, expect, it, vi } from "vitest";
import { engineProgress, progressReporter } from "../../provider/engine-log";

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
    expect(lines).toEqual(["hail: 1,200/5,000 links", "hail: 5,000/5,000 links"]);
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2);
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
