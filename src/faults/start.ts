// start: bring stopped containers of a service back and wait until they are ready again.
import type { StartFault } from "../scenario/schema.js";
import type { FaultModule } from "./types.js";

export const start: FaultModule<StartFault> = {
  kind: "start",
  async apply(f, { runtime }) {
    const t0 = Date.now();
    const containers = await runtime.start(f.service, f.replica);
    return { detail: { service: f.service, containers, ready_ms: Date.now() - t0 } };
  },
};
