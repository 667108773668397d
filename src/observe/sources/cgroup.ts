// A container's CPU and memory as its cgroup counts them, read straight from the host's cgroup
// files (microseconds, no daemon round trip; `docker stats` needs ~1 s per call). cgroup v1
// (cgroupfs driver) and v2 (systemd or cgroupfs) layouts are both tried.
import { readFileSync } from "node:fs";

export interface CgroupReading {
  /** total CPU time used, ns */
  cpu_ns: number;
  /** Working set, as `docker stats` shows it: usage minus the inactive file cache, which the kernel
   * reclaims before it would OOM-kill. Raw usage made a database look near its limit from cache. */
  memory_bytes: number;
  /** undefined when unlimited */
  memory_limit?: number;
  /** CPU limit in force, in cores (quota ÷ period; a resources fault changes it); undefined when unlimited */
  cpu_limit?: number;
}

const V1 = (id: string) => ({
  cpu: [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, `/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpuacct.usage`],
  mem: [`/sys/fs/cgroup/memory/docker/${id}/memory.usage_in_bytes`],
  stat: [`/sys/fs/cgroup/memory/docker/${id}/memory.stat`],
  limit: [`/sys/fs/cgroup/memory/docker/${id}/memory.limit_in_bytes`],
  quota: [`/sys/fs/cgroup/cpu/docker/${id}/cpu.cfs_quota_us`, `/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpu.cfs_quota_us`],
  period: [`/sys/fs/cgroup/cpu/docker/${id}/cpu.cfs_period_us`, `/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpu.cfs_period_us`],
});

/** Cores from a quota and a period in µs; undefined when unlimited (quota -1 or "max"). */
const cores = (quota: string | undefined, period: string | undefined): number | undefined => {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && q > 0 && Number.isFinite(p) && p > 0 ? q / p : undefined;
};
const V2 = (id: string) => {
  const dirs = [`/sys/fs/cgroup/system.slice/docker-${id}.scope`, `/sys/fs/cgroup/docker/${id}`];
  return { dirs };
};

export type ReadFile = (path: string) => string;
const readText: ReadFile = (p) => readFileSync(p, "utf8");

function firstOf(read: ReadFile, paths: string[]): string | undefined {
  for (const p of paths) {
    try {
      return read(p).trim();
    } catch {
      /* next layout */
    }
  }
  return undefined;
}

/** Limits above this are "no limit" (cgroup v1 writes a page-rounded 2^63). */
const UNLIMITED = 2 ** 60;

/** usage minus the named inactive-file counter of memory.stat (when present and smaller). */
function workingSet(usage: number, stat: string | undefined, key: string): number {
  const inactive = Number(new RegExp(`^${key} (\\d+)$`, "m").exec(stat ?? "")?.[1] ?? Number.NaN);
  return Number.isFinite(inactive) && inactive <= usage ? usage - inactive : usage;
}

/** The pids of every process in the container (its cgroup.procs), or undefined when unreadable. A
 * process that appears between two reads was started: a restart loop shows from the outside even
 * when the app's own metrics cannot answer. */
export function readProcs(id: string, read: ReadFile = readText): number[] | undefined {
  const text = firstOf(read, [
    `/sys/fs/cgroup/pids/docker/${id}/cgroup.procs`,
    `/sys/fs/cgroup/cpuacct/docker/${id}/cgroup.procs`,
    ...V2(id).dirs.map((d) => `${d}/cgroup.procs`),
  ]);
  if (text === undefined) return undefined;
  return text
    .split("\n")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

export function readCgroup(id: string, read: ReadFile = readText): CgroupReading | undefined {
  const first = (paths: string[]) => firstOf(read, paths);
  const v1 = V1(id);
  const cpu = first(v1.cpu);
  if (cpu !== undefined) {
    const limit = Number(first(v1.limit));
    const cpuLimit = cores(first(v1.quota), first(v1.period));
    return {
      cpu_ns: Number(cpu),
      memory_bytes: workingSet(Number(first(v1.mem) ?? Number.NaN), first(v1.stat), "total_inactive_file"),
      ...(Number.isFinite(limit) && limit < UNLIMITED ? { memory_limit: limit } : {}),
      ...(cpuLimit !== undefined ? { cpu_limit: cpuLimit } : {}),
    };
  }
  for (const dir of V2(id).dirs) {
    const stat = first([`${dir}/cpu.stat`]);
    if (stat === undefined) continue;
    const usec = Number(/usage_usec (\d+)/.exec(stat)?.[1] ?? Number.NaN);
    const max = first([`${dir}/memory.max`]);
    // cpu.max: "<quota> <period>" in µs, or "max <period>" when unlimited
    const [quota, period] = (first([`${dir}/cpu.max`]) ?? "").trim().split(/\s+/);
    const cpuLimit = cores(quota, period);
    return {
      cpu_ns: usec * 1000,
      memory_bytes: workingSet(Number(first([`${dir}/memory.current`]) ?? Number.NaN), first([`${dir}/memory.stat`]), "inactive_file"),
      ...(max && max !== "max" ? { memory_limit: Number(max) } : {}),
      ...(cpuLimit !== undefined ? { cpu_limit: cpuLimit } : {}),
    };
  }
  return undefined;
}
