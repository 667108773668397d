// The Swarm runtime against a real multi-node swarm (the test swarm: `bash scripts/swarm.sh up`).
// Skipped unless CASCADE_SWARM=1 (`npm run test:swarm`): CI has no swarm; its machinery (cluster
// file, preflight) is unit-tested.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { moduleFor } from "../../src/faults/registry.js";
import { readCgroup } from "../../src/observe/sources/cgroup.js";
import type { Fault } from "../../src/scenario/schema.js";
import { type Cluster, readCluster } from "../../src/runtime/swarm/cluster.js";
import { engineAt } from "../../src/runtime/docker/client.js";
import { LABEL } from "../../src/runtime/docker/labels.js";
import { versionRtt } from "./memcached-client.js";
import { type Topology, topology } from "./topology.js";

const clusterFile = process.env.CASCADE_SWARM_CLUSTER ?? "/run/cascade-swarm/cluster.json";
const on = process.env.CASCADE_SWARM === "1" && existsSync(clusterFile);

const YAML = `
name: swarm-runtime
services:
  cache: { kind: memcached, replicas: 3, restart: always }
  pinned: { kind: memcached, placement: node-2 }
  web: { kind: app, placement: node-1 }
  db: { kind: postgres, placement: node-3 }
links: [{ from: web, to: cache }, { from: web, to: db }]
load: { target: web, phases: [{ duration: 1s, rate: 1 }] }
`;

const until = async (what: string, ms: number, ok: () => Promise<boolean>) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms`);
};

describe.skipIf(!on)("swarm runtime on the test swarm", () => {
  let cluster: Cluster;
  let t: Topology;
  const runId = () => t.runtime.runId;
  const left = async () => {
    let n = 0;
    for (const node of cluster.nodes)
      n += (await engineAt(node.socket).calls.listContainers({ all: true, filters: { label: [`${LABEL.run}=${runId()}`] } })).length;
    n += (await engineAt(cluster.manager).calls.listServices({ filters: { label: [`${LABEL.run}=${runId()}`] } })).length;
    n += (await engineAt(cluster.manager).calls.listNetworks({ filters: { label: [`${LABEL.run}=${runId()}`] } })).length;
    return n;
  };

  beforeAll(async () => {
    cluster = readCluster(clusterFile);
    t = await topology(YAML, { swarm: cluster });
  });
  afterAll(async () => {
    await t?.down();
  });

  it("spreads replicas over every node, pins a placed one, and reaches each at its node's address", async () => {
    const hosts = new Set<string>();
    for (const r of [1, 2, 3]) {
      const ep = await t.ep("cache", r);
      hosts.add(ep.host);
      expect(await versionRtt(ep)).not.toBeNull();
    }
    expect(hosts).toEqual(new Set(cluster.nodes.map((n) => n.address)));
    const node2 = cluster.nodes.find((n) => n.name === "node-2");
    expect((await t.ep("pinned")).host).toBe(node2?.address);
  });

  it("kills a task as a crash: Swarm's restart policy brings a new one, counted as a restart", async () => {
    const before = await t.runtime.state("cache", 1);
    expect(before.running).toBe(true);
    expect(before.pid).toBeGreaterThan(0);
    // the pid is this host's: its cgroup names the container
    expect(readFileSync(`/proc/${before.pid}/cgroup`, "utf8")).toContain(before.id);
    expect(await t.runtime.kill("cache", [1], "SIGKILL")).toEqual(["cache-1"]);
    await until("a new task running", 30_000, async () => {
      const s = await t.runtime.state("cache", 1);
      return s.running && s.id !== before.id;
    });
    expect((await t.runtime.state("cache", 1)).restartCount).toBeGreaterThanOrEqual(1);
    await until("the new task answers", 30_000, async () => (await versionRtt(await t.ep("cache", 1))) !== null);
  });

  it("pauses and thaws a task, and changes its limits on its node (cgroup files on this host)", async () => {
    const ep = await t.ep("cache", 2);
    expect(await t.runtime.pause("cache", [2], true)).toEqual(["cache-2"]);
    expect(await versionRtt(ep, 800)).toBeNull();
    await t.runtime.pause("cache", [2], false);
    expect(await versionRtt(ep)).not.toBeNull();
    const before = await t.runtime.update("cache", 2, { cpus: 0.5 });
    expect(before.cpus).toBe(0);
    const st = await t.runtime.state("cache", 2);
    expect(readCgroup(st.id)?.cpu_limit).toBeCloseTo(0.5, 2);
    const pids = await t.runtime.pids("cache", 2);
    expect(pids).toContain(st.pid);
    const { pid } = await t.runtime.exec("cache", 2, ["sleep", "30"]);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain("sleep");
    process.kill(pid, "SIGKILL");
  });

  it("lowers a task's open-files limit with the ulimit fault (its processes found on this host) and restores it", async () => {
    const f = { kind: "ulimit", service: "cache", replica: 2, nofile: 77, at: 0 } as const;
    const applied = await moduleFor(f as Fault).apply(f as Fault, { runtime: t.runtime });
    const pids = applied.detail.pids as number[];
    expect(pids.length).toBeGreaterThan(0);
    const soft = () => /Max open files\s+(\S+)/.exec(readFileSync(`/proc/${pids[0]}/limits`, "utf8"))?.[1];
    expect(soft()).toBe("77");
    await applied.revert?.();
    expect(soft()).not.toBe("77");
  });

  it("stops a replica (scaled to 0: its name goes) and starts it again, waited ready", async () => {
    expect(await t.runtime.stop("cache", [3])).toEqual(["cache-3"]);
    expect((await t.runtime.state("cache", 3)).running).toBe(false);
    await expect(t.ep("cache", 3)).rejects.toThrow(/no running task/);
    expect(await t.runtime.start("cache", [3])).toEqual(["cache-3"]);
    expect(await versionRtt(await t.ep("cache", 3))).not.toBeNull();
  });

  it("loses a node and brings it back: its replicas read as down, then answer at the same address", async () => {
    const node = cluster.nodes.find((n) => n.name === "node-2");
    const ep = await t.ep("pinned");
    const on2 = await t.runtime.node?.("node-2", "down");
    expect(on2).toContain("pinned-1");
    expect((await t.runtime.state("pinned", 1)).running).toBe(false);
    expect(await versionRtt(ep, 800)).toBeNull();
    await t.runtime.node?.("node-2", "up");
    await until("the pinned replica answers again", 60_000, async () => (await versionRtt(await t.ep("pinned"))) !== null);
    // the node is Ready again in the manager's eyes
    await until("node-2 ready", 60_000, async () => {
      const n = (await engineAt(cluster.manager)
        .calls.getNode(node?.id as string)
        .inspect()) as { Status: { State: string } };
      return n.Status.State === "ready";
    });
  });

  it("tears down to nothing on every node", async () => {
    const r = await t.runtime.down();
    expect(r.containers).toBeGreaterThanOrEqual(4);
    expect(await left()).toBe(0);
  });
});
