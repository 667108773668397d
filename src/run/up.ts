// Topology up, shared by `cascade run` and the integration tests: images, then containers in
// dependency order, with Toxiproxy's proxies created as soon as Toxiproxy is ready (before the
// services that dial through them start).
import { ensureImages } from "../images/build.js";
import type { ImageSource, Role } from "../images/catalog.js";
import type { DockerRuntime } from "../runtime/docker/runtime.js";
import { ToxiproxyApi } from "../runtime/toxiproxy.js";
import { TOXIPROXY_API_PORT, TOXIPROXY_SERVICE, type TopologyPlan } from "../topology/plan.js";

export interface UpResult {
  toxiproxy: ToxiproxyApi | undefined;
  images_ms: number;
  up_ms: number;
}

export async function bringUp(
  plan: TopologyPlan,
  runtime: DockerRuntime,
  opts: { source: ImageSource; progress: (line: string) => void; signal?: AbortSignal },
): Promise<UpResult> {
  const { progress, signal } = opts;
  let t = Date.now();
  progress(`images (${opts.source})`);
  const { refs } = await ensureImages({ source: opts.source, roles: rolesOf(plan), progress: (l) => progress(`  ${l}`) });
  const images_ms = Date.now() - t;
  signal?.throwIfAborted();

  t = Date.now();
  progress(`topology up: run ${runtime.runId}, ${plan.containers.length} containers`);
  let toxiproxy: ToxiproxyApi | undefined;
  await runtime.up(plan, refs, {
    progress,
    ...(signal ? { signal } : {}),
    onReady: async (c) => {
      if (c.service !== TOXIPROXY_SERVICE) return;
      toxiproxy = new ToxiproxyApi(await runtime.endpoint(TOXIPROXY_SERVICE, 1, TOXIPROXY_API_PORT));
      await toxiproxy.createProxies(plan.proxies);
    },
  });
  return { toxiproxy, images_ms, up_ms: Date.now() - t };
}

export function rolesOf(plan: TopologyPlan): Role[] {
  const roles = new Set<Role>();
  for (const c of plan.containers) if ("role" in c.image) roles.add(c.image.role);
  return [...roles];
}
