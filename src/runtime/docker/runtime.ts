// Runtime on a local Docker engine through dockerode: one network per run, every object
// labelled with the run id and its owner process, ports published on 127.0.0.1 only.
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import type Docker from "dockerode";
import type { ContainerPlan, ReadyCheck, TopologyPlan } from "../../topology/plan.js";
import { probeHold, probeHttp, probeMemcached, probePostgres } from "../probe.js";
import type { ContainerEvent, ContainerState, Endpoint, ImageRefs, Limits, Runtime, TeardownReport, UpOptions } from "../types.js";
import { docker } from "./client.js";
import { LABEL, ownerLabel, removeByLabel } from "./labels.js";
import { demuxLogs } from "./logs.js";

export class NotReady extends Error {}

interface Live {
  plan: ContainerPlan;
  container: Docker.Container;
  name: string;
}

export class DockerRuntime implements Runtime {
  private readonly d = docker();
  private readonly live: Live[] = [];
  private tornDown?: Promise<TeardownReport>;

  constructor(readonly runId: string) {}

  get networkName(): string {
    return `cascade-${this.runId}`;
  }

  private labels(extra: Record<string, string> = {}): Record<string, string> {
    return { [LABEL.managed]: "1", [LABEL.run]: this.runId, [LABEL.owner]: ownerLabel(), ...extra };
  }

  plans(): ContainerPlan[] {
    return this.live.map((l) => l.plan);
  }

  async up(plan: TopologyPlan, images: ImageRefs, { progress, signal, onReady }: UpOptions): Promise<void> {
    await this.d.createNetwork({
      Name: this.networkName,
      Driver: "bridge",
      CheckDuplicate: true,
      Labels: this.labels(),
    });
    for (const c of plan.containers) {
      signal?.throwIfAborted();
      const t0 = Date.now();
      const live = await this.create(c, images);
      await live.container.start();
      await this.waitReady(live, signal);
      await onReady?.(c);
      progress(`  ${live.plan.host.padEnd(16)} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }

  private async create(c: ContainerPlan, images: ImageRefs): Promise<Live> {
    const image = "ref" in c.image ? c.image.ref : images[c.image.role];
    if (!image) throw new Error(`no image resolved for ${c.service} (${JSON.stringify(c.image)})`);
    const name = `cascade-${this.runId}-${c.host}`;
    const ports = [c.port, ...(c.publish ?? [])].map((p) => `${p}/tcp`);
    const container = await this.d.createContainer({
      name,
      Image: image,
      Hostname: c.host,
      ...(c.cmd ? { Cmd: c.cmd } : {}),
      Env: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
      Labels: this.labels({ [LABEL.service]: c.service, [LABEL.replica]: String(c.replica) }),
      ExposedPorts: Object.fromEntries(ports.map((k) => [k, {}])),
      HostConfig: {
        // docker-init as PID 1: signals reach the service and a crash ends the container.
        Init: true,
        PortBindings: Object.fromEntries(ports.map((k) => [k, [{ HostIp: "127.0.0.1", HostPort: "" }]])),
        ...(c.memory ? { Memory: c.memory, MemorySwap: c.memory } : {}),
        ...(c.cpus ? { NanoCpus: Math.round(c.cpus * 1e9) } : {}),
        Ulimits: Object.entries(c.ulimits).map(([Name, v]) => ({ Name, Soft: v, Hard: v })),
        RestartPolicy: { Name: c.restart === "no" ? "" : c.restart, MaximumRetryCount: 0 },
        NetworkMode: this.networkName,
      },
      NetworkingConfig: { EndpointsConfig: { [this.networkName]: { Aliases: [c.host, c.service] } } },
    });
    const live = { plan: c, container, name };
    this.live.push(live);
    return live;
  }

  /** replica: one, several, or undefined for all. */
  private find(service: string, replica?: number | number[]): Live[] {
    const want = replica === undefined ? undefined : new Set(Array.isArray(replica) ? replica : [replica]);
    const found = this.live.filter((l) => l.plan.service === service && (want === undefined || want.has(l.plan.replica)));
    if (found.length === 0) throw new Error(`no container for service ${service}${replica ? ` replica ${replica}` : ""}`);
    return found;
  }

  async endpoint(service: string, replica: number, port: number): Promise<Endpoint> {
    const [l] = this.find(service, replica);
    // Ephemeral host ports change when a container restarts: inspect every time.
    const info = await (l as Live).container.inspect();
    const binding = info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0];
    if (!binding) throw new Error(`${service}-${replica}: port ${port} is not published (is the container running?)`);
    return { host: "127.0.0.1", port: Number(binding.HostPort) };
  }

  async state(service: string, replica: number): Promise<ContainerState> {
    const [l] = this.find(service, replica);
    const info = await (l as Live).container.inspect();
    return {
      id: info.Id,
      running: info.State.Running,
      status: info.State.Status,
      oomKilled: info.State.OOMKilled,
      restartCount: info.RestartCount,
      exitCode: info.State.ExitCode,
      pid: info.State.Pid,
    };
  }

  private async waitReady(l: Live, signal?: AbortSignal): Promise<void> {
    const check = l.plan.ready;
    const deadline = Date.now() + check.timeout;
    let reason = "no probe answered yet";
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      const info = await l.container.inspect();
      if (!info.State.Running && !info.State.Restarting) {
        reason = `the container exited with code ${info.State.ExitCode}${info.State.OOMKilled ? " (OOM killed)" : ""}`;
        if (l.plan.restart === "no") break;
      } else {
        const r = await this.probe(l, check);
        if (r === true) return;
        reason = r;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const logs = await this.logsTail(l.plan.service, l.plan.replica, 15).catch(() => "(logs unavailable)");
    throw new NotReady(
      `service ${l.plan.service} (container ${l.plan.host}) was not ready within ${check.timeout / 1000} s: ${reason}\n` +
        `last log lines:\n${logs.replace(/^/gm, "  | ")}`,
    );
  }

  private async probe(l: Live, check: ReadyCheck): Promise<true | string> {
    const { service, replica } = l.plan;
    if (check.tcp) {
      const ep = await this.endpoint(service, replica, check.tcp.port);
      const fn = { memcached: probeMemcached, postgres: probePostgres, hold: probeHold }[check.tcp.protocol];
      if (!(await fn(ep))) return `no ${check.tcp.protocol === "hold" ? "TCP" : check.tcp.protocol} answer on port ${check.tcp.port}`;
    }
    if (check.http) {
      const ep = await this.endpoint(service, replica, check.http.port);
      if (!(await probeHttp(ep, check.http.path))) return `GET ${check.http.path} did not answer 2xx`;
    }
    if (check.log) {
      const logs = await this.logsTail(service, replica, 500);
      if (!new RegExp(check.log).test(logs)) return `no log line matched /${check.log}/`;
    }
    return true;
  }

  async kill(service: string, replicas: number[] | undefined, sig: string): Promise<string[]> {
    const names: string[] = [];
    for (const l of this.find(service, replicas)) {
      const info = await l.container.inspect();
      if (!info.State.Running) continue;
      // A kill through the API counts as a manual stop and defeats restart policies; a signal to
      // the container's init from the host is a real crash. Only when that pid is provably this
      // container's (same host, cgroup names it) — otherwise fall back to the API.
      if (!crashFromHost(info.State.Pid, info.Id, sig)) await l.container.kill({ signal: sig });
      names.push(l.plan.host);
    }
    return names;
  }

  async start(service: string, replicas: number[] | undefined): Promise<string[]> {
    const started: Live[] = [];
    for (const l of this.find(service, replicas)) {
      const info = await l.container.inspect();
      if (info.State.Running) continue;
      await l.container.start();
      started.push(l);
    }
    await Promise.all(started.map((l) => this.waitReady(l)));
    return started.map((l) => l.plan.host);
  }

  async stop(service: string, replicas: number[] | undefined): Promise<string[]> {
    const names: string[] = [];
    await Promise.all(
      this.find(service, replicas).map(async (l) => {
        if (!(await l.container.inspect()).State.Running) return;
        await l.container.stop({ t: 2 });
        names.push(l.plan.host);
      }),
    );
    return names.sort();
  }

  async restart(service: string, replicas: number[] | undefined): Promise<string[]> {
    const found = this.find(service, replicas);
    await Promise.all(found.map((l) => l.container.restart({ t: 2 })));
    await Promise.all(found.map((l) => this.waitReady(l)));
    return found.map((l) => l.plan.host);
  }

  async pause(service: string, replicas: number[] | undefined, paused: boolean): Promise<string[]> {
    const names: string[] = [];
    await Promise.all(
      this.find(service, replicas).map(async (l) => {
        const st = (await l.container.inspect()).State;
        if (!st.Running || st.Paused === paused) return;
        await (paused ? l.container.pause() : l.container.unpause());
        names.push(l.plan.host);
      }),
    );
    return names.sort();
  }

  async update(service: string, replica: number, limits: Limits): Promise<Limits> {
    const [l] = this.find(service, replica) as [Live];
    const hc = (await l.container.inspect()).HostConfig;
    const before: Limits = { memory: hc.Memory ?? 0, cpus: (hc.NanoCpus ?? 0) / 1e9 };
    const body: Record<string, number> = {};
    // Docker's update ignores 0 ("unchanged"), so "no limit" is written as the whole machine.
    if (limits.memory !== undefined) {
      const bytes = limits.memory === 0 ? totalmem() : limits.memory;
      // Swap follows memory so the limit really binds.
      body.Memory = bytes;
      body.MemorySwap = bytes;
    }
    if (limits.cpus !== undefined) body.NanoCpus = Math.round((limits.cpus === 0 ? cpus().length : limits.cpus) * 1e9);
    await l.container.update(body);
    return before;
  }

  async exec(service: string, replica: number, cmd: string[]): Promise<{ pid: number }> {
    const [l] = this.find(service, replica) as [Live];
    const ex = await l.container.exec({ Cmd: cmd, AttachStdout: false, AttachStderr: false, Labels: this.labels() } as never);
    await ex.start({ Detach: true });
    for (let i = 0; i < 40; i++) {
      const info = await ex.inspect();
      if (info.Pid) return { pid: info.Pid };
      if (!info.Running && info.ExitCode !== null) throw new Error(`${l.plan.host}: ${cmd.join(" ")} exited ${info.ExitCode}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${l.plan.host}: ${cmd.join(" ")} did not start`);
  }

  async pids(service: string, replica: number): Promise<number[]> {
    const [l] = this.find(service, replica) as [Live];
    if (!(await l.container.inspect()).State.Running) return [];
    const top = (await l.container.top({ ps_args: "-o pid" })) as { Titles: string[]; Processes: string[][] };
    return top.Processes.map((p) => Number(p[0])).filter((n) => n > 0);
  }

  async watch(onEvent: (e: ContainerEvent) => void): Promise<() => void> {
    const stream = (await this.d.getEvents({
      filters: { type: ["container"], label: [`${LABEL.run}=${this.runId}`], event: ["start", "die", "oom", "kill", "restart", "stop"] },
    })) as unknown as NodeJS.ReadableStream & { destroy(): void };
    let buf = "";
    stream.on("data", (chunk: Buffer) => {
      buf += chunk.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const ev = JSON.parse(line) as { Action: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
          const a = ev.Actor.Attributes;
          onEvent({
            time: new Date(ev.timeNano / 1e6).toISOString(),
            service: a[LABEL.service] ?? "?",
            replica: Number(a[LABEL.replica] ?? 0),
            action: ev.Action,
            ...(a.exitCode !== undefined ? { exitCode: Number(a.exitCode) } : {}),
          });
        } catch {
          /* a partial or foreign line: skip */
        }
      }
    });
    stream.on("error", () => {});
    return () => stream.destroy();
  }

  async logsTail(service: string, replica: number, lines = 20): Promise<string> {
    const [l] = this.find(service, replica);
    const raw = (await (l as Live).container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    return demuxLogs(raw).trimEnd();
  }

  down(): Promise<TeardownReport> {
    this.tornDown ??= removeByLabel(`${LABEL.run}=${this.runId}`);
    return this.tornDown;
  }
}

function crashFromHost(pid: number, id: string, sig: string): boolean {
  if (!pid || process.platform !== "linux") return false;
  try {
    if (!readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(id)) return false;
    process.kill(pid, sig as NodeJS.Signals);
    return true;
  } catch {
    return false;
  }
}
