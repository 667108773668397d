// A live topology for integration tests that measure components directly (not through a whole
// `cascade run`): parse an inline scenario, bring it up with the real runtime, tear it down after.
import { randomBytes } from "node:crypto";
import { runLoad, type LoadSummary, type RatePhase } from "../../src/load/driver.js";
import { resolveSource } from "../../src/images/source.js";
import { DockerRuntime } from "../../src/runtime/docker/runtime.js";
import type { Cluster } from "../../src/runtime/swarm/cluster.js";
import { SwarmRuntime } from "../../src/runtime/swarm/runtime.js";
import type { ToxiproxyApi } from "../../src/runtime/toxiproxy.js";
import type { Endpoint, Runtime } from "../../src/runtime/types.js";
import { bringUp, type ImagesUsed } from "../../src/run/up.js";
import { parseScenario } from "../../src/scenario/load.js";
import type { Scenario } from "../../src/scenario/schema.js";
import { planTopology, type TopologyPlan } from "../../src/topology/plan.js";

export interface Topology {
  scenario: Scenario;
  plan: TopologyPlan;
  runtime: Runtime & Pick<DockerRuntime, "route">;
  toxiproxy: ToxiproxyApi | undefined;
  /** each role's image and each built service's (`build:<service>`), as the run records them */
  images: ImagesUsed;
  /** The published address of a service's own port (replica 1 unless given). */
  ep(service: string, replica?: number): Promise<Endpoint>;
  down(): Promise<void>;
}

export async function topology(yaml: string, opts: { swarm?: Cluster } = {}): Promise<Topology> {
  const scenario = parseScenario(yaml, "inline.yaml");
  const plan = planTopology(scenario);
  const id = randomBytes(4).toString("hex");
  const runtime = opts.swarm ? new SwarmRuntime(id, opts.swarm) : new DockerRuntime(id);
  const log: string[] = [];
  let toxiproxy: ToxiproxyApi | undefined;
  let images: ImagesUsed;
  try {
    ({ toxiproxy, images } = await bringUp(plan, runtime, { source: resolveSource().source, progress: (l) => log.push(l) }));
  } catch (e) {
    await runtime.down().catch(() => {});
    throw new Error(`topology did not come up: ${(e as Error).message}\n${log.join("\n")}`);
  }
  const portOf = (service: string) => {
    const c = plan.containers.find((x) => x.service === service);
    if (!c) throw new Error(`no service ${service}`);
    return c.port;
  };
  return {
    scenario,
    plan,
    runtime,
    toxiproxy,
    images,
    ep: (service, replica = 1) => runtime.endpoint(service, replica, portOf(service)),
    down: async () => {
      await runtime.down();
    },
  };
}

/** Bounded open-model load on one of the test's own containers (the endpoint the runtime gave). */
export function load(ep: Endpoint, path: string, phases: RatePhase[], timeout = 5000, connections = 500): Promise<LoadSummary> {
  return runLoad({ url: `http://${ep.host}:${ep.port}${path}`, method: "GET", phases, timeout, connections, ownHosts: [ep.host] }, {});
}

/** Switches reference-app settings at runtime, as the `app` fault does (with the run's token). */
export async function setApp(ep: Endpoint, set: Record<string, unknown>, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://${ep.host}:${ep.port}/admin/config`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(set),
    signal: AbortSignal.timeout(3000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`/admin/config ${res.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `read` until `done` holds or `ms` passed; returns the last value read. */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms: number, every = 250): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read().catch(() => undefined);
    if (v !== undefined && (done(v) || Date.now() > end)) return v;
    if (Date.now() > end) throw new Error(`nothing readable within ${ms} ms`);
    await sleep(every);
  }
}
