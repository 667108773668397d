// Kind → module. Adding a fault kind means adding a module and a line here.
import type { Fault } from "../scenario/schema.js";
import { app } from "./app.js";
import { kill } from "./kill.js";
import { latency } from "./latency.js";
import { start } from "./start.js";
import type { FaultModule } from "./types.js";

const MODULES = { kill, start, latency, app } satisfies { [K in Fault["kind"]]: FaultModule<Extract<Fault, { kind: K }>> };

export function moduleFor(f: Fault): FaultModule {
  return MODULES[f.kind] as unknown as FaultModule;
}
