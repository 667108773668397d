// The Fault seam: each kind is a module with apply(); what apply returns knows how to revert it.
// The scheduler never needs to know a kind's internals, so new kinds don't touch it.
import type { Fault } from "../scenario/schema.js";
import type { Runtime } from "../runtime/types.js";
import type { ToxiproxyApi } from "../runtime/toxiproxy.js";

export interface FaultContext {
  runtime: Runtime;
  toxiproxy?: ToxiproxyApi;
}

export interface Applied {
  /** What was actually done (containers signalled, toxic name…), recorded in events.ndjson. */
  detail: Record<string, unknown>;
  /** Undo; absent for instantaneous faults such as a kill. */
  revert?: () => Promise<Record<string, unknown> | undefined>;
}

export interface FaultModule<F extends Fault = Fault> {
  kind: F["kind"];
  /** It acts on a cluster's nodes (a machine lost or drained): only a runtime with nodes (Swarm)
   * can apply it; one engine's run and the game day refuse it before anything starts. */
  needsNodes?: true;
  apply(fault: F, ctx: FaultContext): Promise<Applied>;
}

export const faultLabel = (f: Fault, i: number): string => f.name ?? `${f.kind}#${i + 1}`;
