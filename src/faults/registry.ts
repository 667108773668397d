// Kind → module. Adding a fault kind means adding a module and a line here.
import type { Fault } from "../scenario/schema.js";
import { app } from "./app.js";
import { crashloop, hostDown, kill, pause, restart, start, stop } from "./process.js";
import { node } from "./node.js";
import { cpuStress, memoryHog, resources, ulimit } from "./resources.js";
import { bandwidth, latency, limit_data, partition, reset_peer, slicer, slow_close, timeout } from "./toxics.js";
import type { FaultModule } from "./types.js";

const MODULES = {
  kill,
  stop,
  start,
  restart,
  pause,
  "host-down": hostDown,
  crashloop,
  node,
  latency,
  bandwidth,
  timeout,
  reset_peer,
  slow_close,
  slicer,
  limit_data,
  partition,
  ulimit,
  resources,
  "memory-hog": memoryHog,
  "cpu-stress": cpuStress,
  app,
} satisfies { [K in Fault["kind"]]: FaultModule<Extract<Fault, { kind: K }>> };

export function moduleFor(f: Fault): FaultModule {
  return MODULES[f.kind] as unknown as FaultModule;
}

/** Whether faults of `kind` act on a cluster's nodes (FaultModule.needsNodes); false for a string
 * that is no kind. */
export function needsNodes(kind: string): boolean {
  return (MODULES as Record<string, FaultModule | undefined>)[kind]?.needsNodes === true;
}
