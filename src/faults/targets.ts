// Which replicas a service fault acts on: named ones, N picked at random, or all of them.
import type { Runtime } from "../runtime/types.js";

export interface TargetSpec {
  service: string;
  replica?: number | number[] | undefined;
  count?: number | undefined;
}

/** Resolved at apply time (a random pick is recorded in the event detail); undefined = all. */
export function pickReplicas(t: TargetSpec, runtime: Runtime, random: () => number = Math.random): number[] | undefined {
  if (t.replica !== undefined) return Array.isArray(t.replica) ? t.replica : [t.replica];
  if (t.count === undefined) return undefined;
  const all = runtime
    .plans()
    .filter((c) => c.service === t.service)
    .map((c) => c.replica);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j] as number, all[i] as number];
  }
  return all.slice(0, t.count).sort((a, b) => a - b);
}

/** Every replica a spec names, as numbers (for modules that act per container). */
export function replicasOf(t: TargetSpec, runtime: Runtime, random?: () => number): number[] {
  return (
    pickReplicas(t, runtime, random) ??
    runtime
      .plans()
      .filter((c) => c.service === t.service)
      .map((c) => c.replica)
  );
}
