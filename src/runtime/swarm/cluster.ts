// The swarm a run goes to: cluster.json names the manager's socket and every node's (placeholder
// until the swarm-nodes branch's reader lands).
import { readFileSync } from "node:fs";

export interface ClusterNode {
  name: string;
  hostname: string;
  id: string;
  socket: string;
  address: string;
  /** the node's own container on this machine (the test swarm): what a node-down fault detaches */
  container?: string;
  /** the host network the node container is on */
  network?: string;
  role: "manager" | "worker";
}

export interface Cluster {
  manager: string;
  nodes: ClusterNode[];
}

export const DEFAULT_CLUSTER = "/run/cascade-swarm/cluster.json";

export function readCluster(path = process.env.CASCADE_SWARM_CLUSTER ?? DEFAULT_CLUSTER): Cluster {
  const c = JSON.parse(readFileSync(path, "utf8")) as Cluster;
  for (const n of c.nodes) n.network ??= n.container ? "cascade-swarm" : (undefined as never);
  return c;
}

/** A node by its name in the cluster file or its swarm hostname. */
export function findNode(c: Cluster, name: string): ClusterNode {
  const n = c.nodes.find((x) => x.name === name || x.hostname === name);
  if (!n) throw new Error(`no swarm node named ${name} (nodes: ${c.nodes.map((x) => x.name).join(", ")})`);
  return n;
}
