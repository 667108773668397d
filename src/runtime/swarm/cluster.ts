// The swarm a run goes to, as `scripts/swarm.sh up` describes it in cluster.json: the manager's
// socket and, per node, the unix socket of its engine (bind-mounted to the host), its swarm id and
// hostname, and the node's container and address on the host's bridge network (where host-mode
// published ports answer; what a node-down fault detaches). A damaged file fails here, naming the
// file and the field, not later as a confusing engine error.
import { readFileSync } from "node:fs";
import { z } from "zod";

export const DEFAULT_CLUSTER = "/run/cascade-swarm/cluster.json";

const socket = () => z.string().startsWith("/", "an absolute path to a unix socket");

const Node = z.strictObject({
  /** node-1, node-2, …: the script's own name. */
  name: z.string().min(1),
  /** The swarm node's hostname (what `node.hostname==` placement constraints match). */
  hostname: z.string().min(1),
  /** The swarm node id (a task's NodeID). */
  id: z.string().regex(/^[a-z0-9]{25}$/, "a 25-character swarm node id"),
  socket: socket(),
  address: z.ipv4(),
  /** The host engine's container that runs this node. */
  container: z.string().min(1),
  /** The host engine's network `address` is on. */
  network: z.string().min(1),
  role: z.enum(["manager", "worker"]),
});

const ClusterFile = z.strictObject({ manager: socket(), nodes: z.array(Node).min(1) });

export type ClusterNode = z.infer<typeof Node>;
export type Cluster = z.infer<typeof ClusterFile>;

export class ClusterFileError extends Error {
  override readonly name = "ClusterFileError";
}

/** Reads and checks cluster.json; every problem names the file and the field (`nodes[1].socket`). */
export function readCluster(path = process.env.CASCADE_SWARM_CLUSTER ?? DEFAULT_CLUSTER): Cluster {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === "ENOENT" ? " (start the test swarm: scripts/swarm.sh up)" : "";
    throw new ClusterFileError(`${path}: cannot read (${code ?? (e as Error).message})${hint}`);
  }
  return parseCluster(text, path);
}

/** The checks of readCluster on text already read; `path` only names the file in messages. */
export function parseCluster(text: string, path: string): Cluster {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ClusterFileError(`${path}: not JSON (${(e as Error).message})`);
  }
  const parsed = ClusterFile.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${fieldName(i.path)}: ${i.message}`);
    throw new ClusterFileError(`${path}: ${problems.join("; ")}`);
  }
  const cluster = parsed.data;
  const problems: string[] = [];
  const managers = cluster.nodes.filter((n) => n.role === "manager");
  if (managers.length !== 1) problems.push(`nodes: expected exactly one manager, found ${managers.length}`);
  else if (managers[0]?.socket !== cluster.manager)
    problems.push(`manager: ${cluster.manager} is not the manager node's socket (${managers[0]?.socket})`);
  for (const field of ["name", "hostname", "id", "socket", "address", "container"] as const) {
    const seen = new Map<string, number>();
    cluster.nodes.forEach((n, i) => {
      const first = seen.get(n[field]);
      if (first !== undefined) problems.push(`nodes[${i}].${field}: ${JSON.stringify(n[field])} repeats nodes[${first}].${field}`);
      else seen.set(n[field], i);
    });
  }
  if (problems.length) throw new ClusterFileError(`${path}: ${problems.join("; ")}`);
  return cluster;
}

/** A node by its name in the cluster file or its swarm hostname. */
export function findNode(c: Cluster, name: string): ClusterNode {
  const n = c.nodes.find((x) => x.name === name || x.hostname === name);
  if (!n) throw new Error(`no swarm node named ${name} (nodes: ${c.nodes.map((x) => x.name).join(", ")})`);
  return n;
}

/** The node a task ran on, by its swarm NodeID; undefined for a node the file does not know. */
export const nodeById = (c: Cluster, id: string): ClusterNode | undefined => c.nodes.find((n) => n.id === id);

function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(top level)";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");
}
