/**
 * @module
 * The memory the engine side of a run takes: the summed resident set of the
 * `pulumi` CLI and the plugins it started (language host, dynamic-provider
 * host), found by the stack's own `PULUMI_HOME` in their environment. The
 * bench's own process (inline program, local server) is not counted.
 */
import { readdirSync, readFileSync } from "node:fs";

/** The summed RSS in MB of every process whose environment holds `marker`, or undefined off Linux. */
export function rssOfProcessesWith(marker: string): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  let kb = 0;
  for (const pid of entries) {
    if (Number(pid) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, "latin1").includes(marker)) continue;
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match) kb += Number(match[1]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return kb / 1024;
}

/** Samples {@link rssOfProcessesWith} every `everyMs` until stopped; `stop()` gives the peak in MB (null off Linux). */
export function peakRss(marker: string, everyMs = 250): { stop(): number | null } {
  let peak: number | undefined;
  const sample = () => {
    const now = rssOfProcessesWith(marker);
    if (now !== undefined) peak = Math.max(peak ?? 0, now);
  };
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak === undefined ? null : Math.round(peak);
    },
  };
}
