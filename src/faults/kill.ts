// kill: a service's containers die by a signal, as a crash would (restart policies apply).
import type { KillFault } from "../scenario/schema.js";
import type { FaultModule } from "./types.js";

export const kill: FaultModule<KillFault> = {
  kind: "kill",
  async apply(f, { runtime }) {
    const containers = await runtime.kill(f.service, f.replica, f.signal);
    return { detail: { service: f.service, signal: f.signal, containers } };
  },
};
