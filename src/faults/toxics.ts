// Network faults on a link, through Toxiproxy: one toxic per fault (latency, bandwidth, timeout,
// reset_peer, slow_close, slicer, limit_data), and the link down altogether (partition).
import type { PartitionFault, ToxicFault } from "../scenario/schema.js";
import type { ToxicSpec, ToxiproxyApi } from "../runtime/toxiproxy.js";
import { proxyName } from "../topology/plan.js";
import type { FaultModule } from "./types.js";

let seq = 0;

/** Toxiproxy's attribute names and units (ms, KB/s, bytes) for each fault kind. */
function attributesOf(f: ToxicFault): Record<string, number> {
  switch (f.kind) {
    case "latency":
      return { latency: Math.round(f.latency), jitter: Math.round(f.jitter) };
    case "bandwidth":
      return { rate: f.rate };
    case "timeout":
    case "reset_peer":
      return { timeout: Math.round(f.timeout) };
    case "slow_close":
      return { delay: Math.round(f.delay) };
    case "slicer":
      // Toxiproxy's slicer delay is in microseconds.
      return { average_size: f.average_size, size_variation: f.size_variation, delay: Math.round(f.delay * 1000) };
    case "limit_data":
      return { bytes: f.bytes };
  }
}

function proxyOf(link: string, toxiproxy: ToxiproxyApi | undefined, kind: string): { proxy: string; api: ToxiproxyApi } {
  if (!toxiproxy) throw new Error(`${kind} on ${link}: the topology has no Toxiproxy (is the link proxied?)`);
  const [from, to] = link.split("->") as [string, string];
  return { proxy: proxyName({ from, to }), api: toxiproxy };
}

function toxicModule<K extends ToxicFault["kind"]>(kind: K): FaultModule<Extract<ToxicFault, { kind: K }>> {
  const module: FaultModule<ToxicFault> = {
    kind,
    async apply(f, { toxiproxy }) {
      const { proxy, api } = proxyOf(f.link, toxiproxy, f.kind);
      const spec: ToxicSpec = {
        name: `cascade-${f.kind}-${++seq}`,
        type: f.kind,
        stream: f.direction,
        toxicity: f.toxicity,
        attributes: attributesOf(f),
      };
      await api.addToxic(proxy, spec);
      return {
        detail: {
          link: f.link,
          proxy,
          toxic: spec.name,
          type: spec.type,
          direction: f.direction,
          toxicity: f.toxicity,
          ...spec.attributes,
        },
        revert: async () => {
          await api.removeToxic(proxy, spec.name);
          return { proxy, toxic: spec.name };
        },
      };
    },
  };
  return module as unknown as FaultModule<Extract<ToxicFault, { kind: K }>>;
}

export const latency = toxicModule("latency");
export const bandwidth = toxicModule("bandwidth");
export const timeout = toxicModule("timeout");
export const reset_peer = toxicModule("reset_peer");
export const slow_close = toxicModule("slow_close");
export const slicer = toxicModule("slicer");
export const limit_data = toxicModule("limit_data");

export const partition: FaultModule<PartitionFault> = {
  kind: "partition",
  async apply(f, { toxiproxy }) {
    const { proxy, api } = proxyOf(f.link, toxiproxy, "partition");
    await api.setEnabled(proxy, false);
    return {
      detail: { link: f.link, proxy, enabled: false },
      revert: async () => {
        await api.setEnabled(proxy, true);
        return { proxy, enabled: true };
      },
    };
  },
};
