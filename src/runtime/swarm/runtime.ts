// Runtime on a Docker Swarm: the same topology as services on one attachable overlay network,
// placed on the cluster's nodes. The manager's engine creates and scales services; each task's
// container is reached through the engine of the node it runs on (cluster.json names every
// node's socket), which is where kills, pauses, limit updates, execs, logs and events happen.
//
// One service per replica (replicas: 1), named after the replica's host: a fault acts on one
// replica, a placement pins a replica to a node, and DNS answers the host name (the replica) and
// the service name (an alias every replica's service carries) as on one engine. Endpoint mode is
// DNS round-robin: these kernels have no IPVS, so no virtual IP and no routing mesh; the harness
// reaches a task's ports where its node publishes them (mode host, an ephemeral port).
//
// Unlike on one engine there is no holder keeping a replica's name and address: a task that is
// replaced (restart policy, restart, start) gets a new container and address, and a stopped
// replica (scaled to 0) has no name until it starts again — stop and host-down are the same here.
import { randomBytes } from "node:crypto";
import { readProcs } from "../../observe/sources/cgroup.js";
import { hostPidOf } from "../../observe/sources/procfs.js";
import type Docker from "dockerode";
import type { ContainerPlan, TopologyPlan } from "../../topology/plan.js";
import { resolveRefs } from "../../scenario/secrets.js";
import { docker, engineAt } from "../docker/client.js";
import { LABEL, ownerLabel } from "../docker/labels.js";
import { Lease } from "../docker/lease.js";
import { crashFromHost } from "../docker/runtime.js";
import { limitsBody, limitsOf, readEvents, secretEnv, WATCHED } from "../shared.js";
import { demuxLogs } from "../docker/logs.js";
import { execDetached, waitReady } from "../ready.js";
import type { ContainerEvent, ContainerState, Endpoint, ImageRefs, Limits, Runtime, TeardownReport, UpOptions } from "../types.js";
import { type Cluster, type ClusterNode, findNode } from "./cluster.js";
import { ensureOnNodes } from "./images.js";

/** How long a task may take to be scheduled and running (image present on the node). */
const TASK_MS = 60_000;
/** How long teardown waits for the tasks of removed services to leave the network. */
const DRAIN_MS = 30_000;

interface Replica {
  plan: ContainerPlan;
  /** the swarm service that runs this one replica */
  name: string;
  /** the node it is pinned to */
  node: ClusterNode;
}

interface Task {
  ID: string;
  NodeID: string;
  Slot?: number;
  DesiredState: string;
  CreatedAt: string;
  Status: { State: string; Err?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
}

/** A task's process's NSpid line on the test swarm's nodes reads host, node, task: a node's engine
 * names its pids at the second entry. */
const NODE_LEVEL = 1;

/** The host pid of a process a node's engine names by its pid in the node's namespace; undefined
 * when the container's cgroup is not on this host. */
const hostPidOfNodePid = (id: string, nodePid: number): number | undefined => hostPidOf(nodePid, NODE_LEVEL, readProcs(id) ?? []);

/** A replica's current task in a listing, newest first: the newest one meant to run, else the newest of all. */
const current = (list: Task[]): Task | undefined => list.find((t) => t.DesiredState === "running") ?? list[0];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SwarmRuntime implements Runtime {
  private readonly manager: Docker;
  private readonly replicas: Replica[] = [];
  private lease?: Lease;
  private tornDown?: Promise<TeardownReport>;
  readonly adminToken = randomBytes(16).toString("hex");
  readonly dbPassword = randomBytes(16).toString("hex");
  /** nodes taken down by a node fault (their network detached), by name */
  private readonly nodesDown = new Set<string>();

  constructor(
    readonly runId: string,
    readonly cluster: Cluster,
  ) {
    this.manager = engineAt(cluster.manager).calls;
  }

  get networkName(): string {
    return `cascade-${this.runId}`;
  }

  private labels(extra: Record<string, string> = {}): Record<string, string> {
    return { [LABEL.managed]: "1", [LABEL.run]: this.runId, [LABEL.owner]: ownerLabel(), ...extra };
  }

  private secretEnv(kind: string): Record<string, string> {
    return secretEnv(kind, this.adminToken, this.dbPassword);
  }

  plans(): ContainerPlan[] {
    return this.replicas.map((r) => r.plan);
  }

  /** The node a replica runs on: its placement's nodes in turn, else every node in turn. */
  private place(c: ContainerPlan, index: number): ClusterNode {
    const names = c.placement;
    if (names?.length) return findNode(this.cluster, names[(c.replica - 1) % names.length] as string);
    return this.cluster.nodes[index % this.cluster.nodes.length] as ClusterNode;
  }

  async up(plan: TopologyPlan, images: ImageRefs, { progress, signal, onReady, onLeaseLost }: UpOptions): Promise<void> {
    if (!images.reaper) throw new Error("no reaper image resolved: a run without a lease could be taken for leftovers");
    const managerNode = this.cluster.nodes.find((n) => n.role === "manager") as ClusterNode;
    const refs = plan.containers.map((c) => this.imageOf(c, images));
    const placed = plan.containers.map((c, i) => this.place(c, i));
    // Each image only to the nodes its replicas are placed on (a cold node takes ~3 min for all).
    await ensureOnNodes([images.reaper], [managerNode], progress, signal);
    for (const ref of new Set(refs)) await ensureOnNodes([ref], [...new Set(placed.filter((_, i) => refs[i] === ref))], progress, signal);
    const t0 = Date.now();
    this.lease = await Lease.take(this.runId, images.reaper, this.labels(), onLeaseLost ?? (() => {}), signal, {
      client: this.manager,
      address: managerNode.address,
      ping: () => this.manager.ping().then(() => undefined),
    });
    progress(
      `  lease held by reaper ${this.lease.container.id.slice(0, 12)} on ${managerNode.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    await this.manager.createNetwork({
      Name: this.networkName,
      Driver: "overlay",
      Attachable: true,
      CheckDuplicate: true,
      Labels: this.labels(),
    });
    for (const [i, c] of plan.containers.entries()) {
      signal?.throwIfAborted();
      const t0 = Date.now();
      const r: Replica = { plan: c, name: `cascade-${this.runId}-${c.host}`, node: placed[i] as ClusterNode };
      await this.manager.createService(this.spec(r, refs[i] as string, 1) as never);
      this.replicas.push(r);
      await this.waitReady(r, signal);
      await onReady?.(c);
      progress(`  ${c.host.padEnd(16)} ready on ${r.node.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }

  private imageOf(c: ContainerPlan, images: ImageRefs): string {
    const image = "role" in c.image ? images[c.image.role] : "build" in c.image ? images.built?.[c.service] : c.image.ref;
    if (!image) throw new Error(`no image resolved for ${c.service} (${JSON.stringify(c.image)})`);
    return image;
  }

  private spec(r: Replica, image: string, replicas: number): Record<string, unknown> {
    const c = r.plan;
    const labels = this.labels({ [LABEL.service]: c.service, [LABEL.replica]: String(c.replica) });
    const condition = c.restart === "no" ? "none" : c.restart === "on-failure" ? "on-failure" : "any";
    return {
      Name: r.name,
      Labels: labels,
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          ...(c.cmd ? { Args: c.cmd } : {}),
          Hostname: c.host,
          Env: [
            ...Object.entries(c.env).map(([k, v]) => `${k}=${resolveRefs(v)}`),
            ...Object.entries(this.secretEnv(c.kind)).map(([k, v]) => `${k}=${v}`),
            ...(c.secretEnv ?? []).map((k) => `${k}=${this.dbPassword}`),
          ],
          Labels: labels,
          Init: true,
          StopGracePeriod: 2e9,
          Ulimits: Object.entries(c.ulimits).map(([Name, v]) => ({ Name, Soft: v, Hard: v })),
        },
        Resources: {
          Limits: { ...(c.cpus ? { NanoCPUs: Math.round(c.cpus * 1e9) } : {}), ...(c.memory ? { MemoryBytes: c.memory } : {}) },
        },
        // Swarm's default restart delay is 5 s; Docker's own policy restarts at once.
        RestartPolicy: { Condition: condition, Delay: 100e6, MaxAttempts: 0 },
        Placement: { Constraints: [`node.id==${r.node.id}`] },
        Networks: [{ Target: this.networkName, Aliases: c.aliases }],
      },
      Mode: { Replicated: { Replicas: replicas } },
      EndpointSpec: {
        Mode: "dnsrr",
        Ports: [c.port, ...(c.publish ?? [])].map((p) => ({ Protocol: "tcp", TargetPort: p, PublishMode: "host" })),
      },
    };
  }

  private find(service: string, replica?: number | number[]): Replica[] {
    const want = replica === undefined ? undefined : new Set(Array.isArray(replica) ? replica : [replica]);
    const found = this.replicas.filter((r) => r.plan.service === service && (want === undefined || want.has(r.plan.replica)));
    if (found.length === 0) throw new Error(`no container for service ${service}${replica ? ` replica ${replica}` : ""}`);
    return found;
  }

  private nodeById(id: string): ClusterNode {
    const n = this.cluster.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`swarm node ${id} is not in the cluster file`);
    return n;
  }

  private async tasks(r: Replica): Promise<Task[]> {
    const list = (await this.manager.listTasks({ filters: { service: [r.name] } })) as Task[];
    return list.sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
  }

  /** The replica's current task, from a listing of its own. */
  private async task(r: Replica): Promise<Task | undefined> {
    return current(await this.tasks(r));
  }

  /** The current task's container, on its node's engine; a string says why there is none. */
  private async container(r: Replica): Promise<Docker.Container | string> {
    return this.containerOf(r, current(await this.tasks(r)));
  }

  /** The container of task `t` of the replica (from a listing already made). */
  private containerOf(r: Replica, t: Task | undefined): Docker.Container | string {
    if (!t) return `no task of ${r.name} yet`;
    const id = t.Status.ContainerStatus?.ContainerID;
    if (!id) return `task ${t.ID.slice(0, 12)} is ${t.Status.State}${t.Status.Err ? `: ${t.Status.Err}` : ""}`;
    return engineAt(this.nodeById(t.NodeID).socket).calls.getContainer(id);
  }

  private async containerOrThrow(r: Replica): Promise<Docker.Container> {
    const c = await this.container(r);
    if (typeof c === "string") throw new Error(`${r.plan.host}: ${c}`);
    return c;
  }

  private waitReady(r: Replica, signal?: AbortSignal): Promise<void> {
    const { service, replica } = r.plan;
    return waitReady(
      {
        plan: r.plan,
        container: () => this.container(r),
        endpoint: (port) => this.endpoint(service, replica, port),
        logsTail: (lines) => this.logsTail(service, replica, lines),
        labels: this.labels(),
      },
      signal,
    );
  }

  async route(): Promise<"published"> {
    return "published";
  }

  /** The node's address and the port it publishes for the task (mode host). */
  async endpoint(service: string, replica: number, port: number): Promise<Endpoint> {
    const [r] = this.find(service, replica) as [Replica];
    const t = await this.task(r);
    if (t?.Status.State !== "running") throw new Error(`${r.plan.host}: no running task (is it scaled down?)`);
    const node = this.nodeById(t.NodeID);
    const info = await engineAt(node.socket)
      .calls.getContainer(t.Status.ContainerStatus?.ContainerID as string)
      .inspect();
    const binding =
      info.NetworkSettings.Ports?.[`${port}/tcp`]?.find((b) => /^(0\.0\.0\.0|)$/.test(b.HostIp)) ??
      info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0];
    if (!binding) throw new Error(`${r.plan.host}: port ${port} is not published on ${node.name}`);
    return { host: node.address, port: Number(binding.HostPort) };
  }

  async state(service: string, replica: number): Promise<ContainerState> {
    const [r] = this.find(service, replica) as [Replica];
    const tasks = await this.tasks(r);
    // Every task after the first is a restart (by the restart policy, or a start or restart fault).
    const restartCount = Math.max(0, tasks.length - 1);
    const c = this.containerOf(r, current(tasks));
    if (typeof c === "string") return { id: "", running: false, status: c, oomKilled: false, restartCount, exitCode: 0, pid: 0 };
    // A task on a lost node may still run there, cut off: to the cluster and its users it is gone.
    if (this.nodesDown.has(r.node.name))
      return { id: "", running: false, status: `node ${r.node.name} down`, oomKilled: false, restartCount, exitCode: 0, pid: 0 };
    const info = await c.inspect();
    return {
      id: info.Id,
      running: info.State.Running,
      status: info.State.Status,
      oomKilled: info.State.OOMKilled,
      restartCount,
      exitCode: info.State.ExitCode,
      pid: info.State.Running ? (hostPidOfNodePid(info.Id, info.State.Pid) ?? 0) : 0,
    };
  }

  async kill(service: string, replicas: number[] | undefined, sig: string): Promise<string[]> {
    const names: string[] = [];
    for (const r of this.find(service, replicas)) {
      const c = await this.container(r);
      if (typeof c === "string") continue;
      const info = await c.inspect();
      if (!info.State.Running) continue;
      // As on one engine: a signal from the host to the task's init when it runs on this host (the
      // test swarm's nodes); else through its node's engine. Swarm's restart policy applies either way.
      if (!crashFromHost(hostPidOfNodePid(info.Id, info.State.Pid) ?? 0, info.Id, sig)) await c.kill({ signal: sig });
      names.push(r.plan.host);
    }
    return names;
  }

  private async scale(r: Replica, replicas: number, force = false): Promise<void> {
    const svc = this.manager.getService(r.name);
    const info = (await svc.inspect()) as {
      Version: { Index: number };
      Spec: Record<string, unknown> & { TaskTemplate: { ForceUpdate?: number } };
    };
    const spec = { ...info.Spec, Mode: { Replicated: { Replicas: replicas } } };
    if (force) spec.TaskTemplate = { ...info.Spec.TaskTemplate, ForceUpdate: (info.Spec.TaskTemplate.ForceUpdate ?? 0) + 1 };
    await svc.update({ version: info.Version.Index, ...spec } as never);
  }

  private async scaledTo(r: Replica): Promise<number> {
    const info = (await this.manager.getService(r.name).inspect()) as { Spec: { Mode: { Replicated?: { Replicas?: number } } } };
    return info.Spec.Mode.Replicated?.Replicas ?? 0;
  }

  /** Waits until no task of the replica runs (bounded). */
  private async gone(r: Replica): Promise<void> {
    const until = Date.now() + TASK_MS;
    while (Date.now() < until) {
      if (!(await this.tasks(r)).some((t) => ["running", "starting", "preparing", "assigned", "accepted"].includes(t.Status.State))) return;
      await sleep(200);
    }
    throw new Error(`${r.plan.host}: its task still runs ${TASK_MS / 1000} s after it was scaled to 0`);
  }

  async start(service: string, replicas: number[] | undefined): Promise<string[]> {
    const started: Replica[] = [];
    for (const r of this.find(service, replicas)) {
      if ((await this.scaledTo(r)) === 0) await this.scale(r, 1);
      else {
        const t = await this.task(r);
        if (t?.Status.State === "running") continue;
        // A task that ended for good (restart policy none): a new one.
        await this.scale(r, 1, true);
      }
      started.push(r);
    }
    await Promise.all(started.map((r) => this.waitReady(r)));
    return started.map((r) => r.plan.host);
  }

  /** Scaled to 0: Swarm has no stopped task to start again, and its restart policy would bring a
   * stopped container back under "any". The replica's name and address go with it. */
  async stop(service: string, replicas: number[] | undefined): Promise<string[]> {
    const names: string[] = [];
    await Promise.all(
      this.find(service, replicas).map(async (r) => {
        if ((await this.scaledTo(r)) === 0) return;
        await this.scale(r, 0);
        await this.gone(r);
        names.push(r.plan.host);
      }),
    );
    return names.sort();
  }

  hostDown(service: string, replicas: number[] | undefined): Promise<string[]> {
    return this.stop(service, replicas);
  }

  /** A new task (Swarm replaces rather than restarts), waited ready. */
  async restart(service: string, replicas: number[] | undefined): Promise<string[]> {
    const found = this.find(service, replicas);
    await Promise.all(found.map((r) => this.scale(r, 1, true)));
    await sleep(500); // the old task is shut down first; ready must be the new one's
    await Promise.all(found.map((r) => this.waitReady(r)));
    return found.map((r) => r.plan.host);
  }

  async pause(service: string, replicas: number[] | undefined, paused: boolean): Promise<string[]> {
    const names: string[] = [];
    await Promise.all(
      this.find(service, replicas).map(async (r) => {
        const c = await this.container(r);
        if (typeof c === "string") return;
        const st = (await c.inspect()).State;
        if (!st.Running || st.Paused === paused) return;
        await (paused ? c.pause() : c.unpause());
        names.push(r.plan.host);
      }),
    );
    return names.sort();
  }

  /** On the task's container through its node's engine (a service update would replace the task). */
  async update(service: string, replica: number, limits: Limits): Promise<Limits> {
    const [r] = this.find(service, replica) as [Replica];
    const c = await this.containerOrThrow(r);
    const hc = (await c.inspect()).HostConfig;
    const before = limitsOf(hc);
    await c.update(limitsBody(limits));
    return before;
  }

  /** The pid on this host (the faults signal it and read its /proc): a node's engine answers in
   * the node's own PID namespace, so it is looked up among the container's cgroup's processes. */
  async exec(service: string, replica: number, cmd: string[]): Promise<{ pid: number }> {
    const [r] = this.find(service, replica) as [Replica];
    const c = await this.containerOrThrow(r);
    const { pid } = await execDetached(c, cmd, this.labels(), r.plan.host);
    const host = hostPidOfNodePid(c.id, pid);
    if (host === undefined)
      throw new Error(`${r.plan.host}: ${cmd.join(" ")} started (pid ${pid} on its node) but no process of this host is it`);
    return { pid: host };
  }

  /** Host pids of the container's processes, from its cgroup (the host's own tree: see the header). */
  async pids(service: string, replica: number): Promise<number[]> {
    const [r] = this.find(service, replica) as [Replica];
    const c = await this.container(r);
    if (typeof c === "string" || !(await c.inspect()).State.Running) return [];
    return readProcs(c.id) ?? [];
  }

  /** Container events of the run from every node's engine (a task's container lives on its node). */
  async watch(onEvent: (e: ContainerEvent) => void): Promise<() => void> {
    const streams: Array<NodeJS.ReadableStream & { destroy(): void }> = [];
    for (const node of this.cluster.nodes) {
      const stream = (await engineAt(node.socket).streams.getEvents({
        filters: { type: ["container"], label: [`${LABEL.run}=${this.runId}`], event: WATCHED },
      })) as unknown as NodeJS.ReadableStream & { destroy(): void };
      readEvents(stream, [LABEL.reaper], onEvent);
      streams.push(stream);
    }
    return () => {
      for (const s of streams) s.destroy();
    };
  }

  async logsTail(service: string, replica: number, lines = 20): Promise<string> {
    const [r] = this.find(service, replica) as [Replica];
    const c = await this.containerOrThrow(r);
    const raw = (await c.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    return demuxLogs(raw).trimEnd();
  }

  /** A node-level fault. down: the node leaves the cluster's network, as a lost machine does (its
   * tasks are cut off; the manager marks it down and reschedules what its placement allows); up
   * reverses it. drain / active: the manager moves tasks off the node, or lets them back. */
  async node(name: string, action: "down" | "up" | "drain" | "active"): Promise<string[]> {
    const node = findNode(this.cluster, name);
    const onIt = this.replicas.filter((r) => r.node.id === node.id).map((r) => r.plan.host);
    if (action === "drain" || action === "active") {
      const n = this.manager.getNode(node.id);
      const info = (await n.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
      await n.update({ version: info.Version.Index, ...info.Spec, Availability: action } as never);
      return onIt;
    }
    if (!node.container || !node.network)
      throw new Error(
        `node ${node.name}: the cluster file names no container and network for it, so it cannot be taken down (drain works)`,
      );
    const host = docker();
    if (action === "down") {
      await host.getNetwork(node.network).disconnect({ Container: node.container, Force: true });
      this.nodesDown.add(node.name);
    } else {
      // Back at its own address (the swarm knows the node by it): asked for where the network has
      // a declared subnet, else checked.
      const net = host.getNetwork(node.network);
      const declared = ((await net.inspect()) as { IPAM?: { Config?: Array<{ Subnet?: string }> } }).IPAM?.Config?.some((c) => c.Subnet);
      await net
        .connect({ Container: node.container, ...(declared ? { EndpointConfig: { IPAMConfig: { IPv4Address: node.address } } } : {}) })
        .catch(async (e: Error) => {
          if (!declared || !/user specified IP address/.test(e.message)) throw e;
          await net.connect({ Container: node.container });
        });
      const got = ((await host.getContainer(node.container).inspect()).NetworkSettings.Networks as Record<string, { IPAddress?: string }>)[
        node.network
      ]?.IPAddress;
      if (got !== node.address) throw new Error(`node ${node.name} came back at ${got ?? "no address"}, not its own ${node.address}`);
      this.nodesDown.delete(node.name);
    }
    return onIt;
  }

  /** The lease is held until the run's own objects are gone (a Swarm teardown takes longer than
   * the reaper's grace): a harness that dies half-way leaves the rest to the reaper. */
  down(): Promise<TeardownReport> {
    this.tornDown ??= this.removeAll().finally(async () => {
      this.lease?.release();
      const label = `${LABEL.run}=${this.runId}`;
      for (const c of await this.manager.listContainers({ all: true, filters: { label: [label] } }).catch(() => []))
        await this.manager
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
    });
    return this.tornDown;
  }

  /** Services, then (once their tasks left it) the network; a node still down is brought back
   * first, so nothing of the run is left on it. */
  private async removeAll(): Promise<TeardownReport> {
    const t0 = Date.now();
    const problems: string[] = [];
    for (const name of [...this.nodesDown])
      await this.node(name, "up").catch((e: Error) => problems.push(`node ${name} could not be brought back: ${e.message}`));
    const label = `${LABEL.run}=${this.runId}`;
    const services = (await this.manager.listServices({ filters: { label: [label] } })) as Array<{ ID: string }>;
    for (const s of services)
      await this.manager
        .getService(s.ID)
        .remove()
        .catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 404) throw e;
        });
    const until = Date.now() + DRAIN_MS;
    let containers = 0;
    const left = async () => {
      let n = 0;
      for (const node of this.cluster.nodes)
        n += (
          await engineAt(node.socket)
            .calls.listContainers({ all: true, filters: { label: [label] } })
            .catch(() => [])
        ).filter((c) => c.Labels[LABEL.reaper] === undefined).length;
      return n;
    };
    containers = await left();
    let still = containers;
    while (Date.now() < until && still > 0) {
      await sleep(250);
      still = await left();
    }
    if (still > 0)
      problems.push(`${still} container(s) of the run still on the nodes ${DRAIN_MS / 1000} s after their services were removed`);
    const networks = (await this.manager.listNetworks({ filters: { label: [label] } })) as Array<{ Id: string }>;
    for (const n of networks) {
      while (true) {
        try {
          await this.manager.getNetwork(n.Id).remove();
          break;
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode === 404) break;
          if (Date.now() > until) throw new Error(`the run's network ${this.networkName} could not be removed: ${(e as Error).message}`);
          await sleep(500);
        }
      }
    }
    if (problems.length) throw new Error(`teardown of the swarm run: ${problems.join("; ")}`);
    return { containers: Math.max(containers, services.length), networks: networks.length, ms: Date.now() - t0 };
  }
}
