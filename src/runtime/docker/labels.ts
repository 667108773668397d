// Labels are how Cascade finds what it created: per run for teardown, and the run's reaper (its
// lease, see lease.ts) so the next run can tell a live concurrent run from leftovers. The owner
// label (host:pid) is only said, never trusted: pids mean nothing across PID namespaces.
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
  /** On the run's reaper: the container whose life is the run's lease. */
  reaper: "cascade.reaper",
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
  // holder would have its restart policy try (and fail) to join a namespace that is gone. The
  // reaper last: if this process dies half-way, it finishes the job.
  const isReaper = (c: (typeof containers)[number]) => c.Labels[LABEL.reaper] !== undefined;
  const isHolder = (c: (typeof containers)[number]) => c.Labels[LABEL.holder] !== undefined;
  await remove(containers.filter((c) => !isHolder(c) && !isReaper(c)));
  await remove(containers.filter(isHolder));
  const networks = await d.listNetworks({ filters: { label: [label] } });
  for (const n of networks) {
    await d
      .getNetwork(n.Id)
      .remove()
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      });
  }
  await remove(containers.filter(isReaper));
  return { containers: containers.length, networks: networks.length, ms: Date.now() - t0 };
}

export interface Leftover {
  run: string;
  owner: string;
  /** held: its reaper runs (or was created under a minute ago, starting); expired: no live reaper */
  lease: "held" | "expired";
}

/** A reaper created this recently but not yet running is a run taking its lease. */
const STARTING_MS = 60_000;

/** Runs that have objects on this engine, and whether each still holds its lease. */
export async function listRuns(): Promise<Leftover[]> {
  const d = docker();
  const runs = new Map<string, { owner: string; lease: Leftover["lease"] }>();
  const seen = (run: string | undefined, owner: string | undefined) => {
    const key = run ?? "?";
    if (!runs.has(key)) runs.set(key, { owner: owner ?? "?", lease: "expired" });
  };
  const containers = await d.listContainers({ all: true, filters: { label: [LABEL.managed] } });
  for (const c of containers) {
    seen(c.Labels[LABEL.run], c.Labels[LABEL.owner]);
    if (c.Labels[LABEL.reaper] === undefined) continue;
    const starting = c.State === "created" && Date.now() - c.Created * 1000 < STARTING_MS;
    if (c.State === "running" || starting) (runs.get(c.Labels[LABEL.run] ?? "?") as { lease: Leftover["lease"] }).lease = "held";
  }
  for (const n of await d.listNetworks({ filters: { label: [LABEL.managed] } })) seen(n.Labels?.[LABEL.run], n.Labels?.[LABEL.owner]);
  return [...runs].map(([run, r]) => ({ run, ...r }));
}

/** Removes runs whose lease expired (all runs with `all`). Returns what was removed. */
export async function reap(all = false): Promise<Array<Leftover & TeardownReport>> {
  const out: Array<Leftover & TeardownReport> = [];
  for (const r of await listRuns()) {
    if (r.lease === "held" && !all) continue;
    out.push({ ...r, ...(await removeByLabel(`${LABEL.run}=${r.run}`)) });
  }
  return out;
}
