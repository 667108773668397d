// Process faults: a service's containers die, stop, start, restart, freeze, crash on a loop — or
// lose their whole host.
import type { CrashLoopFault, HostDownFault, KillFault, PauseFault, RestartFault, StartFault, StopFault } from "../scenario/schema.js";
import { pickReplicas } from "./targets.js";
import type { FaultModule } from "./types.js";

/** A crash (signal from the host to the container's init), so restart policies apply. */
export const kill: FaultModule<KillFault> = {
  kind: "kill",
  async apply(f, { runtime }) {
    const containers = await runtime.kill(f.service, pickReplicas(f, runtime), f.signal);
    return { detail: { service: f.service, signal: f.signal, containers } };
  },
};

/** A manual stop: Docker's restart policy leaves it down until a start. */
export const stop: FaultModule<StopFault> = {
  kind: "stop",
  async apply(f, { runtime }) {
    return { detail: { service: f.service, containers: await runtime.stop(f.service, pickReplicas(f, runtime)) } };
  },
};

export const start: FaultModule<StartFault> = {
  kind: "start",
  async apply(f, { runtime }) {
    const t0 = Date.now();
    const containers = await runtime.start(f.service, pickReplicas(f, runtime));
    return { detail: { service: f.service, containers, ready_ms: Date.now() - t0 } };
  },
};

export const restart: FaultModule<RestartFault> = {
  kind: "restart",
  async apply(f, { runtime }) {
    const t0 = Date.now();
    const containers = await runtime.restart(f.service, pickReplicas(f, runtime));
    return { detail: { service: f.service, containers, ready_ms: Date.now() - t0 } };
  },
};

/** Every process frozen (cgroup freezer): connections stay open and nothing answers. */
export const pause: FaultModule<PauseFault> = {
  kind: "pause",
  async apply(f, { runtime }) {
    const replicas = pickReplicas(f, runtime);
    const containers = await runtime.pause(f.service, replicas, true);
    return {
      detail: { service: f.service, containers },
      revert: async () => ({ containers: await runtime.pause(f.service, replicas, false) }),
    };
  },
};

/** The whole host is lost: peers' lookups of its name fail and packets to its address go nowhere,
 * where a kill leaves a live host that refuses. The revert (after `duration`) brings the host back,
 * then the service, and waits until it is ready; without one, a `start` does. */
export const hostDown: FaultModule<HostDownFault> = {
  kind: "host-down",
  async apply(f, { runtime }) {
    const replicas = pickReplicas(f, runtime);
    const containers = await runtime.hostDown(f.service, replicas);
    const revert = async () => {
      const t0 = Date.now();
      return { containers: await runtime.start(f.service, replicas), ready_ms: Date.now() - t0 };
    };
    return { detail: { service: f.service, containers }, ...(f.duration !== undefined ? { revert } : {}) };
  },
};

/** Kills the targets at once and then every `every` ms until the window ends. What brings them
 * back between kills is the service's restart policy (or the master of the app's workers). */
export const crashloop: FaultModule<CrashLoopFault> = {
  kind: "crashloop",
  async apply(f, { runtime }) {
    const replicas = pickReplicas(f, runtime);
    const kills: string[][] = [];
    const errors: string[] = [];
    const once = () =>
      runtime
        .kill(f.service, replicas, f.signal)
        .then((c) => {
          kills.push(c);
        })
        .catch((e: Error) => {
          errors.push(e.message);
        });
    await once();
    const timer = setInterval(once, f.every);
    return {
      detail: { service: f.service, every_ms: f.every, first: kills[0] ?? [] },
      revert: async () => {
        clearInterval(timer);
        return { kills: kills.length, killed: kills.reduce((n, k) => n + k.length, 0), ...(errors.length ? { errors } : {}) };
      },
    };
  },
};
