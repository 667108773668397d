// The benches' side of bench/target.ts: starts it as a child process (its pid is kept, so a bench
// stops only what it started) and talks to it over IPC.
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { FromTarget, ToTarget } from "./target-control.js";

export interface Target {
  url: string;
  pid: number;
  /** `afterFirst`: from that many ms after the first request the target gets (else from now) */
  stall(ms: number, afterFirst?: number): Promise<{ held: number; windowMs: number }>;
  report(): Promise<{ received: number; maxPer10ms: number; seconds: number }>;
  stop(): void;
}

/** Every target still running: a bench's cleanup kills them (by pid) on SIGINT/SIGTERM too. */
export const children = new Set<ChildProcess>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A target on 127.0.0.1; `serviceMs` > 0: it answers each request that long after it arrived.
 * `lean`: bench/lean-target.ts (raw sockets, for thousands of requests per second), else the
 * node:http one (bench/target.ts). */
export async function startTarget(serviceMs = 0, lean = false): Promise<Target> {
  const file = lean ? "./lean-target.ts" : "./target.ts";
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [String(serviceMs)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  const timeout = sleep(10_000).then(() => {
    throw new Error("bench target did not start in 10 s");
  });
  const [ready] = (await Promise.race([once(child, "message"), timeout])) as [FromTarget];
  if (ready.type !== "ready") throw new Error("bench target: unexpected first message");
  const ask = async <T extends FromTarget["type"]>(m: ToTarget, reply: T) => {
    const got = once(child, "message") as Promise<[FromTarget]>;
    child.send(m);
    const [r] = await got;
    if (r.type !== reply) throw new Error(`bench target: expected ${reply}, got ${r.type}`);
    return r as Extract<FromTarget, { type: T }>;
  };
  return {
    url: `http://127.0.0.1:${ready.port}/`,
    pid: child.pid ?? -1,
    stall: (ms, afterFirst) => ask({ type: "stall", ms, ...(afterFirst === undefined ? {} : { afterFirst }) }, "stalled"),
    report: () => ask({ type: "report" }, "report"),
    stop: () => {
      child.kill();
      children.delete(child);
    },
  };
}
