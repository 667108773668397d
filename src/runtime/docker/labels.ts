// Labels are how Cascade finds what it created: per run for teardown, per owner process so the
// next run can tell a live concurrent run from the leftovers of one that was SIGKILLed.
import { hostname } from "node:os";
import type { TeardownReport } from "../types.js";
import { docker } from "./client.js";

export const LABEL = {
  managed: "cascade.managed",
  run: "cascade.run",
  owner: "cascade.owner",
  service: "cascade.service",
  replica: "cascade.replica",
  /** On a replica's network holder (value: the replica's host name); it has no service label. */
  holder: "cascade.holder",
} as const;

export const ownerLabel = (): string => `${hostname()}:${process.pid}`;

/** Force-removes every container, then every network, carrying the label (key=value or key). */
export async function removeByLabel(label: string): Promise<TeardownReport> {
  const t0 = Date.now();
  const d = docker();
  const containers = await d.listContainers({ all: true, filters: { label: [label] } });
  const remove = (list: typeof containers) =>
    Promise.all(
      list.map((c) =>
        d
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch((e: { statusCode?: number }) => {
            if (e.statusCode !== 404 && e.statusCode !== 409) throw e; // gone already, or removal in progress
          }),
      ),
    );
  // Services before the holders whose network namespace they share: a service outliving its
  // holder would have its restart policy try (and fail) to join a namespace that is gone.
  await remove(containers.filter((c) => c.Labels[LABEL.holder] === undefined));
  await remove(containers.filter((c) => c.Labels[LABEL.holder] !== undefined));
  const networks = await d.listNetworks({ filters: { label: [label] } });
  for (const n of networks) {
    await d
      .getNetwork(n.Id)
      .remove()
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      });
  }
  return { containers: containers.length, networks: networks.length, ms: Date.now() - t0 };
}

export interface Leftover {
  run: string;
  owner: string;
  alive: boolean;
}

/** Runs that have objects on this engine, and whether the process that owns each still lives. */
export async function listRuns(): Promise<Leftover[]> {
  const d = docker();
  const runs = new Map<string, string>();
  for (const c of await d.listContainers({ all: true, filters: { label: [LABEL.managed] } }))
    runs.set(c.Labels[LABEL.run] ?? "?", c.Labels[LABEL.owner] ?? "?");
  for (const n of await d.listNetworks({ filters: { label: [LABEL.managed] } }))
    runs.set(n.Labels?.[LABEL.run] ?? "?", n.Labels?.[LABEL.owner] ?? "?");
  return [...runs].map(([run, owner]) => ({ run, owner, alive: ownerAlive(owner) }));
}

function ownerAlive(owner: string): boolean {
  const [host, pid] = owner.split(":");
  if (host !== hostname()) return true; // another machine's run on a shared engine: not ours to judge
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes runs whose owner is gone (all runs with `all`). Returns what was removed. */
export async function reap(all = false): Promise<Array<Leftover & TeardownReport>> {
  const out: Array<Leftover & TeardownReport> = [];
  for (const r of await listRuns()) {
    if (r.alive && !all) continue;
    out.push({ ...r, ...(await removeByLabel(`${LABEL.run}=${r.run}`)) });
  }
  return out;
}
