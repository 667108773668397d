// latency: a Toxiproxy latency toxic on a link, removed at the end of its window.
import type { LatencyFault } from "../scenario/schema.js";
import { proxyName } from "../topology/plan.js";
import type { FaultModule } from "./types.js";

let seq = 0;

export const latency: FaultModule<LatencyFault> = {
  kind: "latency",
  async apply(f, { toxiproxy }) {
    if (!toxiproxy) throw new Error(`latency on ${f.link}: the topology has no Toxiproxy (is the link proxied?)`);
    const [from, to] = f.link.split("->") as [string, string];
    const proxy = proxyName({ from, to });
    const name = `cascade-latency-${++seq}`;
    await toxiproxy.addToxic(proxy, {
      name,
      type: "latency",
      stream: f.direction,
      toxicity: f.toxicity,
      attributes: { latency: Math.round(f.latency), jitter: Math.round(f.jitter) },
    });
    return {
      detail: { link: f.link, proxy, toxic: name, latency_ms: f.latency, jitter_ms: f.jitter, direction: f.direction },
      revert: async () => {
        await toxiproxy.removeToxic(proxy, name);
        return { proxy, toxic: name };
      },
    };
  },
};
