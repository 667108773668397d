// One process's own CPU time, read from the host's /proc: a database backend's work measured alone,
// without the container's background processes that its cgroup counter also counts.
import { readFileSync } from "node:fs";

/** The host pid, among `hostPids`, whose innermost namespace pid is `nsPid` (from NSpid in status). */
export function hostPidOf(nsPid: number, hostPids: number[], read = (p: string) => readFileSync(p, "utf8")): number | undefined {
  for (const pid of hostPids) {
    try {
      const ns = /^NSpid:\s+(.*)$/m
        .exec(read(`/proc/${pid}/status`))?.[1]
        ?.trim()
        .split(/\s+/);
      if (ns && Number(ns.at(-1)) === nsPid) return pid;
    } catch {
      /* gone, or not ours to read */
    }
  }
  return undefined;
}

/** CPU time the process has run, ns (first field of /proc/<pid>/schedstat); undefined if unreadable. */
export function processCpuNs(pid: number, read = (p: string) => readFileSync(p, "utf8")): number | undefined {
  try {
    const ns = Number(read(`/proc/${pid}/schedstat`).split(" ")[0]);
    return Number.isFinite(ns) ? ns : undefined;
  } catch {
    return undefined;
  }
}
