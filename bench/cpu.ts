/**
 * @module
 * CPU time beside wall time. On a machine shared with other work, wall time
 * of one run moves by 2× with the load; CPU time moves far less, so the
 * ratios of CPU seconds are the steadier comparison of two setups.
 *
 * - engine: CPU of the `pulumi` processes this process started and reaped
 *   (the CLI, and through it the plugins it reaped: the dynamic provider),
 *   from `cutime + cstime` of /proc/self/stat. Linux only; undefined elsewhere.
 * - bench: CPU of this process: the inline program (the Automation API runs
 *   it here) and the local Klarefi server.
 */
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc times (USER_HZ, 100 on every Linux build in use). */
const CLOCK_TICKS = 100;

/** CPU seconds of this process's reaped children and their reaped descendants, or undefined off Linux. */
function childrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cutime = Number(fields[16 - 3]);
    const cstime = Number(fields[17 - 3]);
    return Number.isFinite(cutime) && Number.isFinite(cstime) ? (cutime + cstime) / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds spent meanwhile by the engine's processes and by this one. */
export interface CpuSeconds {
  engine: number | undefined;
  bench: number;
}

/** Starts counting; the returned function tells the CPU seconds spent since. */
export function cpuMeter(): () => CpuSeconds {
  const children = childrenCpuSeconds();
  const self = process.cpuUsage();
  return () => {
    const childrenNow = childrenCpuSeconds();
    const selfDelta = process.cpuUsage(self);
    return {
      engine: children === undefined || childrenNow === undefined ? undefined : childrenNow - children,
      bench: (selfDelta.user + selfDelta.system) / 1e6,
    };
  };
}
