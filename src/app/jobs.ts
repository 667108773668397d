// In-process background jobs: every jobsIntervalMs a job burns jobsCpuMs of CPU on the event loop
// (stalling requests meanwhile, as a job sharing the process does). With jobsThrow the job throws
// from a timer callback, i.e. an uncaught exception: the process dies with a non-zero exit code, as
// the bad deploy of seed 004 took its pods down. Nothing catches it on purpose.
import { readFileSync } from "node:fs";
import type { AppSettings } from "./config.js";

/** Spins until this thread has used `ms` of CPU time (not wall time): under a CPU quota or beside
 * a busy neighbour the job costs the same CPU, only later, as a real job's work would. The thread's
 * own clock (Linux schedstat), since the process's also counts GC and libuv threads. */
export function burnCpu(ms: number): void {
  if (ms <= 0) return;
  const start = threadCpuNs();
  while (threadCpuNs() - start < ms * 1e6) {
    // burn CPU
  }
}

let schedstat = true;
function threadCpuNs(): number {
  if (schedstat) {
    try {
      return Number(readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0]);
    } catch {
      schedstat = false; // not Linux: the process's clock, which may run a little fast
    }
  }
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

export class JobsCrash extends Error {
  override name = "JobsCrash";
}

export class BackgroundJobs {
  private timer: NodeJS.Timeout | undefined;
  private interval = 0;
  runs = 0;

  constructor(
    private readonly settings: () => Pick<AppSettings, "jobsIntervalMs" | "jobsCpuMs" | "jobsThrow">,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** (Re)schedules after a settings change; a no-op while the interval is unchanged. */
  schedule(): void {
    const { jobsIntervalMs } = this.settings();
    if (jobsIntervalMs === this.interval) return;
    this.stop();
    this.interval = jobsIntervalMs;
    if (jobsIntervalMs > 0) {
      // Not unref'd: a process whose only work is its jobs still runs them.
      this.timer = setInterval(() => this.run(), jobsIntervalMs);
    }
  }

  run(): void {
    const { jobsCpuMs, jobsThrow } = this.settings();
    this.runs++;
    if (jobsThrow) {
      this.log(`cascade-app: background job ${this.runs} throws (jobsThrow)`);
      throw new JobsCrash(`background job ${this.runs} failed (jobsThrow is set)`);
    }
    burnCpu(jobsCpuMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.interval = 0;
  }
}
