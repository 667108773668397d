// Processes as the host's /proc shows them: which host pid a pid from inside a namespace names, and
// one process's own CPU time (a database backend's work measured alone, without the container's
// background processes that its cgroup counter also counts).
import { readFileSync } from "node:fs";

/** The level of a pid seen inside the container itself: the last entry of NSpid (host first). A
 * pid some other namespace names is read at its own level (1: an engine that runs in a container
 * of the host, as a test swarm's node does). */
export const INNERMOST = -1;

/** The pid among `hostPids` (pids in the host's namespace, as cgroup.procs lists them) whose NSpid
 * entry at `level` is `pid`; a process with fewer levels is named by its host pid. `proc` is the
 * proc root (a test's fake tree). */
export function hostPidOf(pid: number, level: number, hostPids: number[], proc = "/proc"): number | undefined {
  for (const p of hostPids) {
    try {
      const ns = /^NSpid:\s+(.*)$/m
        .exec(readFileSync(`${proc}/${p}/status`, "utf8"))?.[1]
        ?.trim()
        .split(/\s+/);
      if (ns && Number(ns.at(level) ?? ns[0]) === pid) return p;
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
