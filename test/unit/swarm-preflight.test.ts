// `cascade run --runtime …` refuses before anything starts: a node fault on one engine, a swarm
// with no cluster file, a placement or node fault naming a node the swarm lacks — one line each,
// naming file, line and field, and its own exit code. No engine is asked (nothing to start).
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../src/cli/exit.js";

const BIN = fileURLToPath(new URL("../../bin/cascade.js", import.meta.url));
let dir: string;

async function cascade(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stderr: string };
    return { code: x.code, stderr: x.stderr };
  }
}

const SCENARIO = `name: preflight
services:
  web: { kind: app, placement: node-9 }
load: { target: web, phases: [{ duration: 5s, rate: 1 }] }
faults:
  - { at: 1s, kind: node, node: node-7 }
`;

const cluster = {
  manager: "/run/x/node-1/docker.sock",
  nodes: [
    {
      name: "node-1",
      hostname: "cascade-node-1",
      id: "6b8zp7v9c9p33t8492r99vpux",
      socket: "/run/x/node-1/docker.sock",
      address: "172.18.0.2",
      container: "cascade-node-1",
      network: "cascade-swarm",
      role: "manager",
    },
  ],
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cascade-preflight-"));
  await writeFile(join(dir, "s.yaml"), SCENARIO);
  await writeFile(join(dir, "cluster.json"), JSON.stringify(cluster));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("run --runtime preflight", () => {
  it("a node fault on one engine: invalid scenario, the fault's line", async () => {
    const r = await cascade(["run", join(dir, "s.yaml")]);
    expect(r.code).toBe(EXIT.invalidScenario);
    expect(r.stderr).toMatch(/s\.yaml:6 faults\[0\]\.kind: a node fault needs --runtime swarm/);
  });

  it("a swarm with no cluster file: infrastructure error, and how to make one", async () => {
    const r = await cascade(["run", join(dir, "s.yaml"), "--runtime", "swarm"], { CASCADE_SWARM_CLUSTER: join(dir, "none.json") });
    expect(r.code).toBe(EXIT.infrastructure);
    expect(r.stderr).toMatch(/none\.json/);
    expect(r.stderr).toMatch(/scripts\/swarm\.sh up/);
  });

  it("nodes the swarm lacks: each named with its line", async () => {
    const r = await cascade(["run", join(dir, "s.yaml"), "--runtime", "swarm"], { CASCADE_SWARM_CLUSTER: join(dir, "cluster.json") });
    expect(r.code).toBe(EXIT.invalidScenario);
    expect(r.stderr).toMatch(/s\.yaml:3 services\.web\.placement: no node node-9 in the swarm/);
    expect(r.stderr).toMatch(/s\.yaml:6 faults\[0\]\.node: no node node-7 in the swarm/);
  });

  it("an unknown runtime: usage error", async () => {
    const r = await cascade(["run", join(dir, "s.yaml"), "--runtime", "k8s"]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/--runtime: "k8s" is not a runtime/);
  });
});
