import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterFileError, findNode, nodeById, parseCluster, readCluster } from "../../src/runtime/swarm/cluster.js";

// The shape scripts/swarm.sh writes (ids from a real `up`).
const node = (n: number, role: "manager" | "worker") => ({
  name: `node-${n}`,
  hostname: `cascade-node-${n}`,
  id: ["6b8zp7v9c9p33t8492r99vpux", "c1glzimcumz8ht72l02afhcmn", "zlj7wn8fu9rdxn3l039k3a95a"][n - 1],
  socket: `/run/cascade-swarm/node-${n}/docker.sock`,
  address: `172.18.0.${n + 1}`,
  container: `cascade-node-${n}`,
  network: "cascade-swarm",
  role,
});
const good = () => ({
  manager: "/run/cascade-swarm/node-1/docker.sock",
  nodes: [node(1, "manager"), node(2, "worker"), node(3, "worker")],
});
const parse = (v: unknown) => parseCluster(JSON.stringify(v), "/x/cluster.json");
const failure = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ClusterFileError);
    return (e as Error).message;
  }
  throw new Error("expected a ClusterFileError");
};

describe("swarm cluster.json", () => {
  it("reads the file the script writes into typed nodes", () => {
    const c = parse(good());
    expect(c.nodes.map((n) => [n.name, n.role])).toEqual([
      ["node-1", "manager"],
      ["node-2", "worker"],
      ["node-3", "worker"],
    ]);
    expect(nodeById(c, "c1glzimcumz8ht72l02afhcmn")?.address).toBe("172.18.0.3");
    expect(nodeById(c, "nope")).toBeUndefined();
    expect(findNode(c, "node-2").id).toBe("c1glzimcumz8ht72l02afhcmn");
    expect(findNode(c, "cascade-node-3").name).toBe("node-3");
    expect(() => findNode(c, "node-9")).toThrow("no swarm node named node-9 (nodes: node-1, node-2, node-3)");
  });

  it("names the file and the field of a missing or wrong value", () => {
    const c = good() as Record<string, unknown> & { nodes: Array<Record<string, unknown>> };
    delete c.nodes[1]?.socket;
    (c.nodes[2] as Record<string, unknown>).address = "not-an-ip";
    const msg = failure(() => parse(c));
    expect(msg).toMatch(/^\/x\/cluster\.json: /);
    expect(msg).toContain("nodes[1].socket:");
    expect(msg).toContain("nodes[2].address:");
  });

  it("refuses an unknown field, a bad role, and a file that is not JSON", () => {
    expect(failure(() => parse({ ...good(), extra: 1 }))).toMatch(/\(top level\): .*extra/);
    const c = good();
    (c.nodes[1] as Record<string, unknown>).role = "boss";
    expect(failure(() => parse(c))).toContain("nodes[1].role:");
    expect(failure(() => parseCluster("{", "/x/cluster.json"))).toMatch(/^\/x\/cluster\.json: not JSON/);
  });

  it("needs exactly one manager, whose socket is the top-level manager, and no repeated node", () => {
    const two = good();
    (two.nodes[1] as Record<string, unknown>).role = "manager";
    expect(failure(() => parse(two))).toContain("expected exactly one manager, found 2");
    expect(failure(() => parse({ ...good(), manager: "/run/cascade-swarm/node-2/docker.sock" }))).toContain(
      "manager: /run/cascade-swarm/node-2/docker.sock is not the manager node's socket",
    );
    const dup = good();
    (dup.nodes[2] as Record<string, unknown>).address = "172.18.0.3";
    expect(failure(() => parse(dup))).toContain('nodes[2].address: "172.18.0.3" repeats nodes[1].address');
  });

  describe("readCluster", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "cascade-cluster-"));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it("reads the path given, else $CASCADE_SWARM_CLUSTER", async () => {
      const file = join(dir, "cluster.json");
      await writeFile(file, JSON.stringify(good()));
      expect(readCluster(file).manager).toBe("/run/cascade-swarm/node-1/docker.sock");
      const before = process.env.CASCADE_SWARM_CLUSTER;
      process.env.CASCADE_SWARM_CLUSTER = file;
      try {
        expect(readCluster().nodes).toHaveLength(3);
      } finally {
        if (before === undefined) delete process.env.CASCADE_SWARM_CLUSTER;
        else process.env.CASCADE_SWARM_CLUSTER = before;
      }
    });

    it("says how to make a missing file", () => {
      expect(() => readCluster(join(dir, "none.json"))).toThrow(/none\.json: cannot read \(ENOENT\).*scripts\/swarm\.sh up/);
    });
  });
});
