// A game day as a scenario that replays it: the declared file with its load phases replaced by the
// profile as applied (rate changes, pauses, bursts, a halt where the load ended) and its faults by
// those that happened, each at the time it was applied and lasting as long as it was in force. The
// rest of the file (services, links, SLO, expectations, comments) is kept as written.
import { parseDocument, type YAMLMap, YAMLSeq } from "yaml";
import type { FaultEvent } from "../faults/scheduler.js";
import { faultLabel } from "../faults/types.js";
import type { RatePhase } from "../load/driver.js";
import { parseScenario } from "../scenario/load.js";
import type { Fault, Scenario } from "../scenario/schema.js";

/** Kinds that take no duration: instantaneous actions (a stopped or killed service stays so until a start). */
const INSTANT: ReadonlySet<string> = new Set(["kill", "stop", "start", "restart"]);

/** ms → a duration the scenario reads back to the millisecond ("16.234s"). */
export const durationText = (ms: number): string => `${+(Math.max(0, Math.round(ms)) / 1000).toFixed(3)}s`;

export interface Played {
  /** the declared scenario's text and its parsed form */
  source: string;
  scenario: Scenario;
  /** every fault event of the session, in order (the timeline's and those by hand) */
  events: FaultEvent[];
  /** label → the fault as it was asked for by hand (without `at`) */
  inputs: ReadonlyMap<string, Record<string, unknown>>;
  /** the load profile as applied, from load start to where it ended */
  phases: RatePhase[];
  /** a line put at the top of the description */
  heading: string;
  /** where the file will be said to come from in a validation message */
  file: string;
}

/** The faults as they happened: each apply with the fault asked for, at its time, with its duration,
 * within the load's `endMs` (a halt stops the load a few ms before its reverts land; a fault applied
 * after the load ended is left out: a scenario's faults act on its load). */
export function playedFaults(p: Pick<Played, "scenario" | "events" | "inputs">, endMs: number): Record<string, unknown>[] {
  const scripted = new Map<string, Fault>(p.scenario.faults.map((f, i) => [faultLabel(f, i), f]));
  const out: Record<string, unknown>[] = [];
  for (const e of p.events) {
    if (e.action !== "apply") continue;
    const asked = p.inputs.get(e.fault) ?? (scripted.get(e.fault) as Record<string, unknown> | undefined);
    const at = Math.round(e.actual_ms);
    if (!asked || at >= endMs) continue;
    const { at: _at, name: _name, duration: _duration, ...rest } = asked;
    const revert = p.events.find((r) => r.action === "revert" && r.fault === e.fault && r.actual_ms >= e.actual_ms);
    const f: Record<string, unknown> = { name: e.fault, at: durationText(at), ...rest };
    const until = (ms: number) => Math.max(1, Math.min(endMs, Math.round(ms)) - at);
    if (revert && !INSTANT.has(e.kind)) f.duration = durationText(until(revert.actual_ms));
    else if (e.kind === "crashloop") f.duration = durationText(until(e.actual_ms + Number(asked.duration ?? 1000)));
    out.push(f);
  }
  return out;
}

/** The profile in the scenario's words: durations to the millisecond, zero-length pieces dropped;
 * and its length, ms. */
export function playedPhases(phases: RatePhase[]): { phases: Array<Record<string, unknown>>; ms: number } {
  const out: Array<Record<string, unknown>> = [];
  for (const p of phases) {
    const ms = Math.round(p.duration);
    if (ms < 1) continue;
    const rate = +p.rate.toFixed(3);
    const last = out[out.length - 1];
    // A rate set again to what it was is one phase.
    if (p.to === undefined && last && last.to === undefined && last.rate === rate) {
      last.ms = (last.ms as number) + ms;
      continue;
    }
    out.push({ ms, rate, ...(p.to === undefined ? {} : { to: +p.to.toFixed(3) }) });
  }
  return {
    phases: out.map(({ ms, ...r }) => ({ duration: durationText(ms as number), ...r })),
    ms: out.reduce((t, p) => t + (p.ms as number), 0),
  };
}

/** The scenario file that replays the session, and its parsed form (it must validate). */
export function asPlayed(p: Played): { source: string; scenario: Scenario } {
  const doc = parseDocument(p.source);
  const { phases, ms } = playedPhases(p.phases);
  if (!phases.length) throw new Error("no load was applied: nothing to replay");
  const phaseSeq = doc.createNode(phases) as YAMLSeq;
  for (const item of phaseSeq.items) (item as YAMLMap).flow = true;
  doc.setIn(["load", "phases"], phaseSeq);
  const faults = playedFaults(p, ms);
  const faultSeq = doc.createNode(faults) as YAMLSeq;
  for (const item of faultSeq.items) (item as YAMLMap).flow = true;
  doc.setIn(["faults"], faults.length ? faultSeq : new YAMLSeq());
  const before = p.scenario.description;
  doc.set("description", before ? `${p.heading} ${before}` : p.heading);
  const source = doc.toString({ lineWidth: 0 });
  return { source, scenario: parseScenario(source, p.file) };
}
