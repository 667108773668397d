// Resource faults: open-files limit on running processes, container limits changed live, and
// pressure from inside (a process holding memory against the cgroup, busy loops on the CPU).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { CpuStressFault, MemoryHogFault, ResourcesFault, UlimitFault } from "../scenario/schema.js";
import type { Limits, Runtime } from "../runtime/types.js";
import { replicasOf } from "./targets.js";
import type { FaultModule } from "./types.js";

/** Current soft:hard open-files limit and owner of a host pid, from /proc; undefined once gone. */
function inspectPid(pid: number): { soft: string; hard: string; uid: string; gid: string } | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const m = line && /Max open files\s+(\S+)\s+(\S+)/.exec(line);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const gid = /^Gid:\s+(\d+)/m.exec(status)?.[1];
    return m && uid && gid ? { soft: m[1] as string, hard: m[2] as string, uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** Sets the soft open-files limit of a process (prlimit(1), util-linux), running as the process's
 * own user: the kernel lets a process's owner lower or restore its soft limit (up to the hard
 * one) without CAP_SYS_RESOURCE, which container hosts often withhold, even from root. */
function setSoftNofile(pid: number, p: { uid: string; gid: string; hard: string }, soft: string): void {
  const args = [`--reuid=${p.uid}`, `--regid=${p.gid}`, "--clear-groups", "prlimit", `--pid=${pid}`, `--nofile=${soft}:${p.hard}`];
  execFileSync("setpriv", args, { stdio: "pipe", timeout: 2000 });
}

/** Lowers the soft open-files limit of every process in the targets, as a runtime fd cap. Open
 * descriptors stay; new sockets and files past the limit fail with EMFILE. */
export const ulimit: FaultModule<UlimitFault> = {
  kind: "ulimit",
  async apply(f, { runtime }) {
    const before: Array<{ pid: number; soft: string; hard: string; uid: string; gid: string }> = [];
    for (const r of replicasOf(f, runtime)) {
      for (const pid of await runtime.pids(f.service, r)) {
        const p = inspectPid(pid);
        if (!p) continue;
        const hard = p.hard === "unlimited" ? Infinity : Number(p.hard);
        setSoftNofile(pid, p, String(Math.min(f.nofile, hard)));
        before.push({ pid, ...p });
      }
    }
    if (before.length === 0) throw new Error(`ulimit: no running process in ${f.service}`);
    return {
      detail: { service: f.service, nofile: f.nofile, pids: before.map((b) => b.pid) },
      revert: async () => {
        let restored = 0;
        for (const b of before) {
          if (!inspectPid(b.pid)) continue; // exited meanwhile: its replacement started with the container's limit
          setSoftNofile(b.pid, b, b.soft);
          restored++;
        }
        return { restored };
      },
    };
  },
};

/** Memory and CPU limits of running containers, changed live (docker update) and put back. */
export const resources: FaultModule<ResourcesFault> = {
  kind: "resources",
  async apply(f, { runtime }) {
    const want: Limits = {
      ...(f.memory !== undefined ? { memory: f.memory } : {}),
      ...(f.cpus !== undefined ? { cpus: f.cpus } : {}),
    };
    const replicas = replicasOf(f, runtime);
    const before = new Map<number, Limits>();
    for (const r of replicas) before.set(r, await runtime.update(f.service, r, want));
    return {
      detail: { service: f.service, replicas, ...want, before: Object.fromEntries(before) },
      revert: async () => {
        for (const [r, lim] of before)
          await runtime.update(f.service, r, {
            ...(want.memory !== undefined ? { memory: lim.memory } : {}),
            ...(want.cpus !== undefined ? { cpus: lim.cpus } : {}),
          });
        return { replicas };
      },
    };
  },
};

/** Processes started inside the targets, killed from the host at revert (with their children). */
async function inside(runtime: Runtime, service: string, replicas: number[], cmd: string[], n: number) {
  const pids: number[] = [];
  for (const r of replicas) for (let i = 0; i < n; i++) pids.push((await runtime.exec(service, r, cmd)).pid);
  return {
    pids,
    stop: () => {
      let killed = 0;
      for (const pid of pids) killed += killTree(pid);
      return { killed };
    },
  };
}

function killTree(pid: number): number {
  let n = 0;
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean))
      n += killTree(Number(child));
    process.kill(pid, "SIGKILL");
    n++;
  } catch {
    /* already gone (the OOM killer may have taken it) */
  }
  return n;
}

/** A shell holding `size` bytes of a string in its own memory, then sleeping: counted against the
 * container's cgroup like any process of the service (needs sh, head and tr in the image). */
export const memoryHog: FaultModule<MemoryHogFault> = {
  kind: "memory-hog",
  async apply(f, { runtime }) {
    const replicas = replicasOf(f, runtime);
    const script = `h=$(head -c ${Math.round(f.size)} /dev/zero | tr '\\000' x); while :; do sleep 3600; done`;
    const run = await inside(runtime, f.service, replicas, ["sh", "-c", script], 1);
    return { detail: { service: f.service, replicas, bytes: f.size, pids: run.pids }, revert: async () => run.stop() };
  },
};

/** Busy loops inside the targets, competing with the service for its CPU quota. */
export const cpuStress: FaultModule<CpuStressFault> = {
  kind: "cpu-stress",
  async apply(f, { runtime }) {
    const replicas = replicasOf(f, runtime);
    const run = await inside(runtime, f.service, replicas, ["sh", "-c", "while :; do :; done"], f.workers);
    return { detail: { service: f.service, replicas, workers: f.workers, pids: run.pids }, revert: async () => run.stop() };
  },
};
