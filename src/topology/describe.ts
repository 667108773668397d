// `cascade run --dry-run`: what a run of the scenario would start and do, as plain lines, from the
// same plan the run uses. Nothing here talks to Docker. Environment values are not printed (a
// scenario's env may carry secrets); their names are.
import type { Fault, Scenario } from "../scenario/schema.js";
import { type ContainerPlan, notByName, type TopologyPlan } from "./plan.js";

const MIB = 2 ** 20;
/** Fault fields that are durations (ms once parsed). */
const DURATIONS = new Set(["latency", "jitter", "timeout", "delay", "every", "hold"]);
const secs = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

function container(c: ContainerPlan): string {
  const image = "role" in c.image ? `${c.image.role} image` : "build" in c.image ? `built from ${c.image.build.context}` : c.image.ref;
  const parts = [
    c.host.padEnd(16),
    image.padEnd(22),
    `port ${c.port}`,
    ...(c.publish?.length ? [`also ${c.publish.join(", ")}`] : []),
    ...(c.memory ? [`memory ${Math.round(c.memory / MIB)} MiB`] : []),
    ...(c.cpus ? [`cpus ${c.cpus}`] : []),
    ...(c.restart && c.restart !== "no" ? [`restart ${c.restart}`] : []),
    ...(Object.keys(c.ulimits).length ? [`ulimits ${Object.entries(c.ulimits).map(([k, v]) => `${k}=${v}`)}`] : []),
  ];
  return `  ${parts.join("  ")}`;
}

/** A fault in one line: when, its name, its kind and what it targets, and for how long. */
export function describeFault(f: Fault, i: number): string {
  const target = "service" in f ? f.service : "link" in f ? f.link : "";
  const { at, kind, name, ...rest } = f as Fault & { name?: string; duration?: number };
  const fields = Object.entries(rest)
    .filter(([k]) => !["service", "link", "duration"].includes(k))
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : DURATIONS.has(k) ? `${v}ms` : v}`);
  const duration = "duration" in f && f.duration !== undefined ? `, for ${secs(f.duration)}` : "";
  return `  ${secs(at).padStart(9)}  ${(name ?? `${kind}#${i + 1}`).padEnd(18)} ${kind} ${target}${fields.length ? ` (${fields.join(", ")})` : ""}${duration}`;
}

/** The load's phases in one line: "30/s for 10 s, then 100/s for 50 s". */
export const describeLoad = (l: Scenario["load"]): string =>
  l.phases.map((p) => `${p.rate}/s for ${secs(p.duration)}`).join(", then ") +
  (l.generators > 1 ? ` from ${l.generators} generator processes` : "");

export function describePlan(s: Scenario, plan: TopologyPlan): string[] {
  const lines = [`dry run of ${s.name}: nothing is started`, "", "containers, in start order:"];
  lines.push(`  ${"reaper".padEnd(16)}  ${"reaper image".padEnd(22)}  the run's lease: removes the run if the harness dies`);
  for (const c of plan.containers) lines.push(container(c));
  const holders = plan.containers.filter((c) => c.kind !== "toxiproxy").length;
  lines.push(`  + ${holders} network holder(s), one per service replica (its name and address)`);
  lines.push("", "links:");
  for (const l of s.links) {
    const p = plan.proxies.find((x) => x.link === `${l.from}->${l.to}`);
    const why = notByName(s, l);
    lines.push(
      `  ${l.from} -> ${l.to}: ${p ? `through Toxiproxy (${p.listen} → ${p.upstream})${why ? `; ${why}` : `, answering as ${l.to}`}` : "direct"}`,
    );
  }
  lines.push(
    "",
    `load: ${describeLoad(s.load)} → ${s.load.method} ${plan.target.service}:${plan.target.port}${s.load.path}, deadline ${secs(s.load.timeout)}, at most ${s.load.connections} connections`,
  );
  lines.push("", s.faults.length ? "faults, from load start:" : "faults: none");
  for (const [i, f] of s.faults.entries()) lines.push(describeFault(f, i));
  const env = plan.containers.filter((c) => Object.keys(c.env).length);
  if (env.length) {
    lines.push("", "environment (names only; values are not printed):");
    for (const c of env) lines.push(`  ${c.host}: ${Object.keys(c.env).sort().join(", ")}`);
  }
  return lines;
}
