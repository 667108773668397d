// CPU accounting from /proc (Linux): what the whole machine and one process used over a window.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

const TICK_S = 0.01; // USER_HZ = 100 on Linux

/** Busy and total jiffies, summed over all CPUs. */
function systemJiffies(): { busy: number; total: number } {
  const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] as string).trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] as number) - (f[4] as number), total };
}

/** utime + stime of a process, in seconds (0 if it is gone). */
function processSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(f[11]) + Number(f[12])) * TICK_S;
  } catch {
    return 0;
  }
}

export interface CpuWindow {
  /** cores busy on average, whole machine */
  machine: number;
  /** cores used on average by the watched process */
  watched: number;
}

/** Starts a window; call the result to end it. */
export function cpuWindow(watchPid?: number): () => CpuWindow {
  const s0 = systemJiffies();
  const p0 = watchPid ? processSeconds(watchPid) : 0;
  const t0 = performance.now();
  return () => {
    const s1 = systemJiffies();
    const wall = (performance.now() - t0) / 1000;
    const machine = s1.total > s0.total ? ((s1.busy - s0.busy) / (s1.total - s0.total)) * cpus().length : 0;
    return { machine, watched: watchPid ? (processSeconds(watchPid) - p0) / wall : 0 };
  };
}
