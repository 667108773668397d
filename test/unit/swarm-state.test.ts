// A swarm replica's state from one listing of its service's tasks: the restart count and the
// current task's container come from the same answer of the manager (a fake engine on a unix
// socket stands in for the manager and the node; no swarm runs in unit tests).
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../../src/runtime/swarm/cluster.js";
import { SwarmRuntime } from "../../src/runtime/swarm/runtime.js";
import type { ContainerPlan } from "../../src/topology/plan.js";

const task = (id: string, created: string, desired: string, state: string, container?: string) => ({
  ID: id.padEnd(25, "0"),
  NodeID: "6b8zp7v9c9p33t8492r99vpux",
  DesiredState: desired,
  CreatedAt: created,
  Status: { State: state, ...(container ? { ContainerStatus: { ContainerID: container } } : {}) },
});

describe("swarm replica state", () => {
  let dir: string;
  let server: Server;
  const calls: string[] = [];
  /** what the fake manager lists for the replica's service */
  let tasks: unknown[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cascade-swarm-"));
    server = createServer((req, res) => {
      const path = (req.url ?? "").split("?")[0] as string;
      calls.push(`${req.method} ${path}`);
      res.setHeader("content-type", "application/json");
      if (path.endsWith("/tasks")) return res.end(JSON.stringify(tasks));
      const inspect = /\/containers\/([^/]+)\/json$/.exec(path);
      if (inspect)
        return res.end(
          JSON.stringify({ Id: inspect[1], State: { Running: true, Status: "running", OOMKilled: false, ExitCode: 0, Pid: 7 } }),
        );
      res.statusCode = 404;
      res.end(JSON.stringify({ message: `no ${path}` }));
    });
    await new Promise<void>((r) => server.listen(join(dir, "docker.sock"), r));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const runtime = (): SwarmRuntime => {
    const socket = join(dir, "docker.sock");
    const node = {
      name: "node-1",
      hostname: "cascade-node-1",
      id: "6b8zp7v9c9p33t8492r99vpux",
      socket,
      address: "172.18.0.2",
      container: "cascade-node-1",
      network: "cascade-swarm",
      role: "manager" as const,
    };
    const cluster: Cluster = { manager: socket, nodes: [node] };
    const rt = new SwarmRuntime("statetest", cluster);
    // As up() leaves it: one replica, its service, its node.
    const plan = { service: "db", replica: 1, host: "db-1" } as ContainerPlan;
    (rt as unknown as { replicas: unknown[] }).replicas.push({ plan, name: "cascade-statetest-db-1", node });
    return rt;
  };

  it("counts restarts and inspects the current task's container from one listing of the tasks", async () => {
    tasks = [
      task("a", "2025-01-01T00:00:01Z", "shutdown", "failed", "c-old"),
      task("b", "2025-01-01T00:00:03Z", "running", "running", "c-new"),
      task("c", "2025-01-01T00:00:02Z", "shutdown", "failed", "c-mid"),
    ];
    calls.length = 0;
    const st = await runtime().state("db", 1);
    expect(st).toMatchObject({ id: "c-new", running: true, status: "running", restartCount: 2, exitCode: 0 });
    expect(calls.filter((c) => c.endsWith("/tasks"))).toHaveLength(1);
    expect(calls.filter((c) => c.endsWith("/containers/c-new/json"))).toHaveLength(1);
    expect(calls).toHaveLength(2);
  });

  it("says why there is no container, from the same listing", async () => {
    tasks = [task("d", "2025-01-01T00:00:01Z", "running", "preparing")];
    calls.length = 0;
    const st = await runtime().state("db", 1);
    expect(st).toMatchObject({ id: "", running: false, restartCount: 0, pid: 0 });
    expect(st.status).toMatch(/^task d0{11} is preparing$/);
    tasks = [];
    expect((await runtime().state("db", 1)).status).toBe("no task of cascade-statetest-db-1 yet");
    expect(calls.filter((c) => c.endsWith("/tasks"))).toHaveLength(2);
  });
});
