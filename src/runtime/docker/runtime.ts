// Runtime on a local Docker engine through dockerode: one network per run, every object
// labelled with the run id and its owner process, ports published on 127.0.0.1 only.
//
// The harness reaches a container at its own address on the run's bridge when this machine has
// an interface on that bridge (a local Linux engine), and through its published port otherwise
// (Docker Desktop's VM). Direct is preferred: docker-proxy copies every byte in user space, and
// beside a CPU hog its accept queue once stalled all of a run's load and readings for 15 s.
// CASCADE_PUBLISHED_PORTS=1 forces the published ports.
//
// Each service replica runs as two containers, as a Kubernetes pod does: a holder (the pause
// container) owns the network namespace — DNS aliases, hostname, address, published ports — and
// the service's container joins it (NetworkMode container:<holder>). A killed, stopped or
// crash-looping process then leaves a live host behind: its peers are refused at once instead of
// losing the name (Docker's DNS would forward the lookup to the host's resolvers, which may be
// unreachable), and a restart keeps its address and ports. hostDown() takes the holder away too.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import type Docker from "dockerode";
import type { ContainerPlan, TopologyPlan } from "../../topology/plan.js";
import { execDetached, waitReady } from "../ready.js";
import type { ContainerEvent, ContainerState, Endpoint, ImageRefs, Limits, Runtime, TeardownReport, UpOptions } from "../types.js";
import { docker, dockerStreams } from "./client.js";
import { LABEL, ownerLabel, removeByLabel } from "./labels.js";
import { Lease } from "./lease.js";
import { resolveRefs } from "../../scenario/secrets.js";
import { limitsBody, limitsOf, readEvents, secretEnv, WATCHED } from "../shared.js";
import { demuxLogs } from "./logs.js";

export { NotReady } from "../ready.js";

interface Live {
  plan: ContainerPlan;
  /** the service's own process */
  container: Docker.Container;
  name: string;
  /** owns the network namespace; absent for Toxiproxy, which owns its own */
  holder?: Docker.Container;
}

/** How long a kill waits for the engine to see the container die. */
const KILL_SEEN_MS = 5000;

/** The holder is a sleeping process: a few MB, the lowest CPU weight, no restart of its own. */
const HOLDER_MEMORY = 8 * 2 ** 20;

/** Toxiproxy is harness plumbing no fault can target (validate rejects faults that name it), so
 * its name never has to outlive its process; every service of the scenario gets a holder. */
const needsHolder = (c: ContainerPlan) => c.kind !== "toxiproxy";

/** Docker answers 304/409 when a container is already in the state asked for. */
const unlessAlready = (e: { statusCode?: number }) => {
  if (e.statusCode !== 304 && e.statusCode !== 409) throw e;
};

export class DockerRuntime implements Runtime {
  private readonly d = docker();
  private readonly live: Live[] = [];
  private tornDown?: Promise<TeardownReport>;
  private lease?: Lease;
  /** reach containers at their bridge address (see the header); settled at the first endpoint() */
  private direct?: Promise<boolean>;

  /** The app's admin API token for this run: given to app containers at creation, never planned
   * or recorded (plan.json is written before; the env is not). */
  readonly adminToken = randomBytes(16).toString("hex");
  readonly dbPassword = randomBytes(16).toString("hex");

  constructor(readonly runId: string) {}

  get networkName(): string {
    return `cascade-${this.runId}`;
  }

  private secretEnv(kind: string): Record<string, string> {
    return secretEnv(kind, this.adminToken, this.dbPassword);
  }

  private labels(extra: Record<string, string> = {}): Record<string, string> {
    return { [LABEL.managed]: "1", [LABEL.run]: this.runId, [LABEL.owner]: ownerLabel(), ...extra };
  }

  plans(): ContainerPlan[] {
    return this.live.map((l) => l.plan);
  }

  async up(plan: TopologyPlan, images: ImageRefs, { progress, signal, onReady, onLeaseLost }: UpOptions): Promise<void> {
    const holderImage = plan.containers.some(needsHolder) ? (images.holder ?? (await holderFallback(images, progress))) : "";
    // The lease first: from here on, whatever this run creates is removed if the harness dies.
    if (!images.reaper) throw new Error("no reaper image resolved: a run without a lease could be taken for leftovers");
    const t0 = Date.now();
    this.lease = await Lease.take(this.runId, images.reaper, this.labels(), onLeaseLost ?? (() => {}), signal);
    progress(`  lease held by reaper ${this.lease.container.id.slice(0, 12)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await this.d.createNetwork({
      Name: this.networkName,
      Driver: "bridge",
      CheckDuplicate: true,
      Labels: this.labels(),
    });
    for (const c of plan.containers) {
      signal?.throwIfAborted();
      const t0 = Date.now();
      const live = await this.create(c, images, holderImage);
      await live.holder?.start();
      await live.container.start();
      await this.waitReady(live, signal);
      await onReady?.(c);
      progress(`  ${live.plan.host.padEnd(16)} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }

  private async create(c: ContainerPlan, images: ImageRefs, holderImage: string): Promise<Live> {
    const image = "role" in c.image ? images[c.image.role] : "build" in c.image ? images.built?.[c.service] : c.image.ref;
    if (!image) throw new Error(`no image resolved for ${c.service} (${JSON.stringify(c.image)})`);
    const name = `cascade-${this.runId}-${c.host}`;
    const ports = [c.port, ...(c.publish ?? [])].map((p) => `${p}/tcp`);
    // Whoever owns the network namespace carries the name, the hostname and the published ports.
    const network = {
      Hostname: c.host,
      ExposedPorts: Object.fromEntries(ports.map((k) => [k, {}])),
      PortBindings: Object.fromEntries(ports.map((k) => [k, [{ HostIp: "127.0.0.1", HostPort: "" }]])),
      NetworkMode: this.networkName,
      NetworkingConfig: { EndpointsConfig: { [this.networkName]: { Aliases: c.aliases } } },
    };
    const holder = needsHolder(c)
      ? await this.d.createContainer({
          name: `${name}-holder`,
          Image: holderImage,
          Hostname: network.Hostname,
          Labels: this.labels({ [LABEL.holder]: c.host }),
          ExposedPorts: network.ExposedPorts,
          HostConfig: {
            // docker-init reaps and passes SIGTERM on, so a stop is immediate whatever the image runs.
            Init: true,
            PortBindings: network.PortBindings,
            Memory: HOLDER_MEMORY,
            MemorySwap: HOLDER_MEMORY,
            CpuShares: 2,
            NetworkMode: network.NetworkMode,
          },
          NetworkingConfig: network.NetworkingConfig,
        })
      : undefined;
    const container = await this.d.createContainer({
      name,
      Image: image,
      ...(holder ? {} : { Hostname: network.Hostname, ExposedPorts: network.ExposedPorts }),
      ...(c.cmd ? { Cmd: c.cmd } : {}),
      // ${NAME} in a value is read from the harness's environment here, and only here.
      Env: [
        ...Object.entries(c.env).map(([k, v]) => `${k}=${resolveRefs(v)}`),
        // the run's secrets, added here so the plan (and the record) never holds them
        ...Object.entries(this.secretEnv(c.kind)).map(([k, v]) => `${k}=${v}`),
        ...(c.secretEnv ?? []).map((k) => `${k}=${this.dbPassword}`),
      ],
      Labels: this.labels({ [LABEL.service]: c.service, [LABEL.replica]: String(c.replica) }),
      HostConfig: {
        // docker-init as PID 1: signals reach the service and a crash ends the container.
        Init: true,
        ...(c.memory ? { Memory: c.memory, MemorySwap: c.memory } : {}),
        ...(c.cpus ? { NanoCpus: Math.round(c.cpus * 1e9) } : {}),
        Ulimits: Object.entries(c.ulimits).map(([Name, v]) => ({ Name, Soft: v, Hard: v })),
        // A restart by this policy joins the holder's namespace again (same address and ports).
        RestartPolicy: { Name: c.restart === "no" ? "" : c.restart, MaximumRetryCount: 0 },
        // Docker refuses a hostname, ports or endpoint settings next to a container network mode.
        ...(holder ? { NetworkMode: `container:${holder.id}` } : { PortBindings: network.PortBindings, NetworkMode: network.NetworkMode }),
      },
      ...(holder ? {} : { NetworkingConfig: network.NetworkingConfig }),
    });
    const live: Live = { plan: c, container, name, ...(holder ? { holder } : {}) };
    this.live.push(live);
    return live;
  }

  /** Starts the holder when the host was lost (hostDown), before the service can join it. */
  private async hostUp(l: Live): Promise<void> {
    if (!l.holder || (await l.holder.inspect()).State.Running) return;
    await l.holder.start().catch(unlessAlready);
  }

  /** replica: one, several, or undefined for all. */
  private find(service: string, replica?: number | number[]): Live[] {
    const want = replica === undefined ? undefined : new Set(Array.isArray(replica) ? replica : [replica]);
    const found = this.live.filter((l) => l.plan.service === service && (want === undefined || want.has(l.plan.replica)));
    if (found.length === 0) throw new Error(`no container for service ${service}${replica ? ` replica ${replica}` : ""}`);
    return found;
  }

  /** True when one of this machine's interfaces is the run network's gateway. Asked once a
   * container is attached: until then the bridge has no carrier and is not listed as up. */
  private async onBridge(): Promise<boolean> {
    if (process.env.CASCADE_PUBLISHED_PORTS === "1") return false;
    const net = await this.d.getNetwork(this.networkName).inspect();
    const gateways = new Set((net.IPAM?.Config ?? []).map((c: { Gateway?: string }) => c.Gateway).filter(Boolean));
    return Object.values(networkInterfaces())
      .flat()
      .some((i) => i !== undefined && gateways.has(i.address));
  }

  /** How the harness reaches the run's containers: their bridge addresses, or published ports. */
  async route(): Promise<"bridge" | "published"> {
    this.direct ??= this.onBridge();
    return (await this.direct) ? "bridge" : "published";
  }

  async endpoint(service: string, replica: number, port: number): Promise<Endpoint> {
    const [l] = this.find(service, replica) as [Live];
    // Addresses and ephemeral host ports change when the namespace's owner starts again (a
    // host-down's revert, or a restart of Toxiproxy): inspect every time.
    const info = await (l.holder ?? l.container).inspect();
    if ((await this.route()) === "bridge") {
      const address = info.NetworkSettings.Networks?.[this.networkName]?.IPAddress;
      if (!address) throw new Error(`${service}-${replica}: no address on ${this.networkName} (is its host up?)`);
      return { host: address, port };
    }
    const binding = info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0];
    if (!binding) throw new Error(`${service}-${replica}: port ${port} is not published (is its host up?)`);
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

  private waitReady(l: Live, signal?: AbortSignal): Promise<void> {
    const { service, replica } = l.plan;
    return waitReady(
      {
        plan: l.plan,
        container: async () => l.container,
        endpoint: (port) => this.endpoint(service, replica, port),
        logsTail: (lines) => this.logsTail(service, replica, lines),
        labels: this.labels(),
      },
      signal,
    );
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
      // Returns once the engine has seen the death (a start right after it found the container
      // still "running" and started nothing); a signal the process survives is not waited out.
      if (sig === "SIGKILL") await this.seenDead(l, info.State.Pid, info.RestartCount);
    }
    return names;
  }

  private async seenDead(l: Live, pid: number, restarts: number): Promise<void> {
    const until = Date.now() + KILL_SEEN_MS;
    while (Date.now() < until) {
      const st = await l.container.inspect();
      if (!st.State.Running || st.State.Pid !== pid || st.RestartCount > restarts) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async start(service: string, replicas: number[] | undefined): Promise<string[]> {
    const started: Live[] = [];
    for (const l of this.find(service, replicas)) {
      await this.hostUp(l);
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
    await Promise.all(
      found.map(async (l) => {
        await this.hostUp(l);
        await l.container.restart({ t: 2 });
      }),
    );
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

  async hostDown(service: string, replicas: number[] | undefined): Promise<string[]> {
    const names: string[] = [];
    await Promise.all(
      this.find(service, replicas).map(async (l) => {
        const host = l.holder ?? l.container;
        if (!(await host.inspect()).State.Running) return;
        // The network goes first, so the dying process's resets reach no peer: their connections
        // hang as on a lost machine. Kills through the API count as manual stops, so no restart
        // policy brings the process back onto a host that is gone.
        await host.kill().catch(unlessAlready);
        if (l.holder) await l.container.kill().catch(unlessAlready);
        names.push(l.plan.host);
      }),
    );
    return names.sort();
  }

  async update(service: string, replica: number, limits: Limits): Promise<Limits> {
    const [l] = this.find(service, replica) as [Live];
    const hc = (await l.container.inspect()).HostConfig;
    const before = limitsOf(hc);
    await l.container.update(limitsBody(limits));
    return before;
  }

  async exec(service: string, replica: number, cmd: string[]): Promise<{ pid: number }> {
    const [l] = this.find(service, replica) as [Live];
    return execDetached(l.container, cmd, this.labels(), l.plan.host);
  }

  async pids(service: string, replica: number): Promise<number[]> {
    const [l] = this.find(service, replica) as [Live];
    if (!(await l.container.inspect()).State.Running) return [];
    const top = (await l.container.top({ ps_args: "-o pid" })) as { Titles: string[]; Processes: string[][] };
    return top.Processes.map((p) => Number(p[0])).filter((n) => n > 0);
  }

  async watch(onEvent: (e: ContainerEvent) => void): Promise<() => void> {
    const stream = (await dockerStreams().getEvents({
      filters: { type: ["container"], label: [`${LABEL.run}=${this.runId}`], event: WATCHED },
    })) as unknown as NodeJS.ReadableStream & { destroy(): void };
    readEvents(stream, [LABEL.holder], onEvent);
    return () => stream.destroy();
  }

  async logsTail(service: string, replica: number, lines = 20): Promise<string> {
    const [l] = this.find(service, replica);
    const raw = (await (l as Live).container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    return demuxLogs(raw).trimEnd();
  }

  down(): Promise<TeardownReport> {
    // Let go of the lease first, so its end is not taken for a lost one; the reaper goes last.
    this.lease?.release();
    this.tornDown ??= removeByLabel(`${LABEL.run}=${this.runId}`);
    return this.tornDown;
  }
}

/** Signals a container's init from the host, as a crash would; false when `pid` is not provably
 * that container's on this host (its cgroup must name the container). */
export function crashFromHost(pid: number, id: string, sig: string): boolean {
  if (!pid || process.platform !== "linux") return false;
  try {
    if (!readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(id)) return false;
    process.kill(pid, sig as NodeJS.Signals);
    return true;
  } catch {
    return false;
  }
}

/** The holder's image when the caller did not resolve it with the other roles: from the source the
 * other built-in images came from (an official ref is the upstream one; the app's is ours either
 * way), else the one chosen on this machine; built or pulled if missing. */
async function holderFallback(images: ImageRefs, progress: (line: string) => void): Promise<string> {
  const [{ ensureImages }, { resolveSource }, { OFFICIAL }] = await Promise.all([
    import("../../images/build.js"),
    import("../../images/source.js"),
    import("../../images/catalog.js"),
  ]);
  const known = Object.entries(images).filter(([role]) => role !== "app" && role !== "holder");
  let source = resolveSource().source;
  if (known.length) source = known.some(([role, ref]) => OFFICIAL[role as keyof typeof OFFICIAL] === ref) ? "official" : "offline";
  const { refs } = await ensureImages({ source, roles: ["holder"], progress: (l) => progress(`  ${l}`) });
  return refs.holder as string;
}
