// Readiness of one replica, shared by the runtimes: the plan's checks (TCP greeting, HTTP, a log
// line, a command in the container) tried every 200 ms until its timeout. The replica's container
// is asked for on every try: a Swarm task is replaced by a new container when it fails.
import type Docker from "dockerode";
import type { ContainerPlan, ReadyCheck } from "../topology/plan.js";
import { probeHold, probeHttp, probeMariadb, probeMemcached, probePostgres, probeRedis } from "./probe.js";
import type { Endpoint } from "./types.js";

export class NotReady extends Error {}

export interface ReadyTarget {
  plan: ContainerPlan;
  /** The replica's container now, or why it has none (a Swarm task not yet scheduled). */
  container(): Promise<Docker.Container | string>;
  endpoint(port: number): Promise<Endpoint>;
  logsTail(lines: number): Promise<string>;
  /** labels of the execs a command check starts (so teardown and audits can tell them) */
  labels: Record<string, string>;
}

export async function waitReady(t: ReadyTarget, signal?: AbortSignal): Promise<void> {
  const check = t.plan.ready;
  const deadline = Date.now() + check.timeout;
  let reason = "no probe answered yet";
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    const c = await t.container().catch((e: Error) => e.message);
    if (typeof c === "string") reason = c;
    else {
      const info = await c.inspect();
      if (!info.State.Running && !info.State.Restarting) {
        reason = `the container exited with code ${info.State.ExitCode}${info.State.OOMKilled ? " (OOM killed)" : ""}`;
        if (t.plan.restart === "no") break;
      } else {
        const r = await probe(t, c, check).catch((e: Error) => e.message);
        if (r === true) return;
        reason = r;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const logs = await t.logsTail(15).catch(() => "(logs unavailable)");
  throw new NotReady(
    `service ${t.plan.service} (container ${t.plan.host}) was not ready within ${check.timeout / 1000} s: ${reason}\n` +
      `last log lines:\n${logs.replace(/^/gm, "  | ")}`,
  );
}

async function probe(t: ReadyTarget, c: Docker.Container, check: ReadyCheck): Promise<true | string> {
  if (check.tcp) {
    const ep = await t.endpoint(check.tcp.port);
    const fn = { memcached: probeMemcached, redis: probeRedis, postgres: probePostgres, mariadb: probeMariadb, hold: probeHold }[
      check.tcp.protocol
    ];
    if (!(await fn(ep))) return `no ${check.tcp.protocol === "hold" ? "TCP" : check.tcp.protocol} answer on port ${check.tcp.port}`;
  }
  if (check.http) {
    const ep = await t.endpoint(check.http.port);
    if (!(await probeHttp(ep, check.http.path))) return `GET ${check.http.path} did not answer 2xx`;
  }
  if (check.log) {
    const logs = await t.logsTail(500);
    if (!new RegExp(check.log).test(logs)) return `no log line matched /${check.log}/`;
  }
  if (check.command) {
    const r = await commandCheck(c, check.command, t.labels);
    if (r !== true) return r;
  }
  return true;
}

/** A readiness command run in the container: true on exit 0. One try has 10 s (compose's own
 * healthcheck timeout is 30 s; a probe is retried until the service's ready timeout). */
async function commandCheck(c: Docker.Container, cmd: string[], labels: Record<string, string>): Promise<true | string> {
  const shown = cmd.join(" ");
  let ex: Docker.Exec;
  try {
    ex = await c.exec({ Cmd: cmd, AttachStdout: false, AttachStderr: false, Labels: labels } as never);
    await ex.start({ Detach: true });
  } catch (e) {
    return `\`${shown}\` could not start: ${(e as Error).message.split("\n")[0]}`;
  }
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const info = await ex.inspect();
    if (!info.Running && info.ExitCode !== null) return info.ExitCode === 0 ? true : `\`${shown}\` exited ${info.ExitCode}`;
    await new Promise((r) => setTimeout(r, 50));
  }
  return `\`${shown}\` did not finish within 10 s`;
}

/** Starts a detached process in a container; its pid as the container's engine reports it. */
export async function execDetached(
  c: Docker.Container,
  cmd: string[],
  labels: Record<string, string>,
  who: string,
): Promise<{ pid: number }> {
  const ex = await c.exec({ Cmd: cmd, AttachStdout: false, AttachStderr: false, Labels: labels } as never);
  await ex.start({ Detach: true });
  for (let i = 0; i < 40; i++) {
    const info = await ex.inspect();
    if (info.Pid) return { pid: info.Pid };
    if (!info.Running && info.ExitCode !== null) throw new Error(`${who}: ${cmd.join(" ")} exited ${info.ExitCode}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${who}: ${cmd.join(" ")} did not start`);
}
