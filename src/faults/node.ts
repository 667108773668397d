// A node-level fault (Swarm): a whole machine lost, or drained by the manager. Only a runtime with
// nodes can do it; on one engine the run's preflight refuses the scenario before anything starts.
import type { NodeFault } from "../scenario/schema.js";
import type { FaultModule } from "./types.js";

export const node: FaultModule<NodeFault> = {
  kind: "node",
  needsNodes: true,
  async apply(f, { runtime }) {
    if (!runtime.node) throw new Error(`a node fault needs a runtime with nodes (--runtime swarm)`);
    const act = runtime.node.bind(runtime);
    const t0 = Date.now();
    const containers = await act(f.node, f.action);
    const back = f.action === "down" ? "up" : "active";
    const revert = async () => ({ containers: await act(f.node, back), ms: Date.now() - t0 });
    return { detail: { node: f.node, action: f.action, containers }, ...(f.duration !== undefined ? { revert } : {}) };
  },
};
