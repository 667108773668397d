// The test Swarm that `scripts/swarm.sh up` starts (three engine-in-container nodes): runs only
// with CASCADE_SWARM=1 and its cluster.json present (`npm run test:swarm`). Checks that the file
// tells the truth: three Ready/Active nodes, one manager, each node's socket reaching that node.
import { existsSync } from "node:fs";
import Docker from "dockerode";
import { beforeAll, describe, expect, it } from "vitest";
import { type Cluster, DEFAULT_CLUSTER, readCluster } from "../../src/runtime/swarm/cluster.js";

const path = process.env.CASCADE_SWARM_CLUSTER ?? DEFAULT_CLUSTER;
const enabled = process.env.CASCADE_SWARM === "1" && existsSync(path);
const engine = (socketPath: string) => new Docker({ socketPath, timeout: 15_000 });

describe.skipIf(!enabled)("the test swarm (scripts/swarm.sh up)", () => {
  let cluster: Cluster;
  beforeAll(() => {
    cluster = readCluster(path);
  });

  it("has three nodes, Ready and Active, and exactly one manager, the leader, as cluster.json says", async () => {
    const nodes = await engine(cluster.manager).listNodes();
    expect(nodes).toHaveLength(3);
    expect(cluster.nodes).toHaveLength(3);
    for (const n of nodes) {
      expect(n.Status?.State, `${n.Description?.Hostname} state`).toBe("ready");
      expect(n.Spec?.Availability, `${n.Description?.Hostname} availability`).toBe("active");
    }
    const managers = nodes.filter((n) => n.Spec?.Role === "manager");
    expect(managers).toHaveLength(1);
    expect(managers[0]?.ManagerStatus?.Leader).toBe(true);
    const fromFile = cluster.nodes.map((n) => ({ id: n.id, hostname: n.hostname, role: n.role })).sort((a, b) => a.id.localeCompare(b.id));
    const fromSwarm = nodes
      .map((n) => ({ id: n.ID, hostname: n.Description?.Hostname, role: n.Spec?.Role }))
      .sort((a, b) => String(a.id).localeCompare(String(b.id)));
    expect(fromSwarm).toEqual(fromFile);
  });

  it("reaches each node's own engine through its socket, and its container's address on the cluster's network", async () => {
    const host = new Docker({ timeout: 15_000 });
    for (const n of cluster.nodes) {
      const info = await engine(n.socket).info();
      expect(info.Swarm?.NodeID, n.name).toBe(n.id);
      expect(info.Swarm?.LocalNodeState, n.name).toBe("active");
      expect(info.Swarm?.ControlAvailable, n.name).toBe(n.role === "manager");
      const c = await host.getContainer(n.container).inspect();
      expect(c.State.Running, n.container).toBe(true);
      expect(c.Config.Labels?.["cascade.swarm"], n.container).toBeTruthy();
      expect(c.NetworkSettings.Networks[n.network]?.IPAddress, n.container).toBe(n.address);
    }
  });
});
