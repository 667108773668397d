// The analysis stage: from what was recorded (load samples, component readings, fault and
// container events) to a verdict — did it cascade, along which path, through which mechanisms,
// did it recover — and the SLO gate. Pure: it runs the same on a live run and on a stored one.
import type { FaultEvent } from "../faults/scheduler.js";
import type { CohortSample } from "../load/cohorts.js";
import type { LoadSample } from "../load/driver.js";
import type { ComponentsSample } from "../observe/observer.js";
import type { Fault, Scenario } from "../scenario/schema.js";
import type { TopologyPlan } from "../topology/plan.js";
import { decideGate, type Gate, type RunStatus } from "./gate.js";
import type { DbCalibration } from "../calibrate/postgres.js";
import { checkSetup, type Setup } from "./baseline.js";
import { type Backpressure, backpressure, type Mechanism, mechanisms, median, type Span } from "./mechanisms.js";
import { buildSeries, hostsOf, mappedOf, type Series } from "./series.js";

export interface Step {
  /** a service, a link ("app->cache") or "users" */
  component: string;
  /** seconds since load start */
  at_s: number;
  why: string;
}

export interface Objective {
  name: string;
  /** for display, e.g. "≥ 95.0 %"; the numbers are `limit` and `value` */
  target: string;
  /** for display, e.g. "63.4 %" */
  measured: string;
  pass: boolean;
  /** SLO objectives: the measured number (a share 0-1, ms or s, as `unit` says); null when not measured */
  value?: number | null;
  /** SLO objectives: the target number, in `unit` */
  limit?: number;
  unit?: "share" | "ms" | "s";
}

export interface Analysis {
  /** "setup did not hold": the baseline was not under the pressure the scenario requires, so
   * nothing is concluded about the system. "degraded during the fault": users were hurt only while
   * a fault was in force and were back as it ended, with no mechanism carrying the harm further —
   * the outage itself, not a cascade. */
  verdict: "cascade" | "no cascade" | "degraded during the fault" | "inconclusive" | "setup did not hold";
  /** judged without the app's own /metrics (`analyze --black-box`): from the dependencies' counters
   * and the users alone, as for a system that exports nothing */
  black_box?: boolean;
  /** why, in one or two sentences */
  summary: string;
  reasons: string[];
  windows: { baseline: Span; impact: Span; recovery: Span | null; trigger_end_s: number | null };
  primary: Mechanism | null;
  contributing: Mechanism[];
  mechanisms: Mechanism[];
  backpressure: Backpressure;
  path: Step[];
  recovery: { recovered: boolean | null; after_s: number | null; limit_s: number; metastable: boolean | null; sustained_by: string | null };
  slo: { pass: boolean; objectives: Objective[] };
  expectations: { pass: boolean; checks: Objective[] };
  /** series with a sampler missing, seconds per service */
  gaps: Record<string, number>;
  /** the baseline as measured, and the scenario's required pressure checked against it (absent in
   * records written before it existed) */
  setup?: Setup;
  /** the CI gate's one decision (see gate.ts); absent in records written before it existed */
  gate?: Gate;
}

export interface RecordedRun {
  scenario: Scenario;
  plan: TopologyPlan;
  load: LoadSample[];
  components: ComponentsSample[];
  faults: FaultEvent[];
  /** whole-run latency from the load driver's histogram, when known */
  latency?: { p50: number | null; p95: number | null; p99: number | null };
  /** the databases' calibration at topology up */
  calibrations?: DbCalibration[];
  /** outcomes by intended send second (records from before cohorts existed have none) */
  cohorts?: CohortSample[];
  /** how the run ended (result.json); a run that did not complete never passes the gate */
  status?: RunStatus["status"];
  error?: string;
}

const DEFAULT_AVAILABILITY = 0.99;
const DEFAULT_RECOVERY_MS = 30_000;
const STABLE_SECONDS = 3;
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** Load shapes that are triggers in their own right: a spike (a phase well above the one before
 * and the one after) and a pause (rate 0, then load again), as apply/revert events. */
export function loadEvents(scenario: Scenario): FaultEvent[] {
  const out: FaultEvent[] = [];
  const phases = scenario.load.phases;
  let at = 0;
  phases.forEach((p, i) => {
    const prev = phases[i - 1];
    const next = phases[i + 1];
    const peak = Math.max(p.rate, (p as { to?: number }).to ?? p.rate);
    const spike = prev !== undefined && next !== undefined && peak >= 1.5 * Math.max(prev.rate, 1) && next.rate <= peak / 1.5;
    const pause = p.rate === 0 && next !== undefined && i > 0;
    if (spike || pause) {
      const name = `${spike ? "spike" : "pause"}@${at / 1000}s`;
      const base = { type: "fault" as const, fault: name, kind: "load" as Fault["kind"], lag_ms: 0, took_ms: 0, detail: { rate: peak } };
      out.push({ ...base, action: "apply", time: "", planned_ms: at, actual_ms: at });
      out.push({ ...base, action: "revert", time: "", planned_ms: at + p.duration, actual_ms: at + p.duration });
    }
    at += p.duration;
  });
  return out;
}

/** When the first trigger is planned, ms from load start: a fault, or a spike or pause in the load. */
export function firstFaultMs(scenario: Scenario): number | undefined {
  const at = [
    ...scenario.faults.map((f) => f.at),
    ...loadEvents(scenario)
      .filter((e) => e.action === "apply")
      .map((e) => e.planned_ms),
  ];
  return at.length ? Math.min(...at) : undefined;
}

export interface AnalyzeOptions {
  /** leave the app's own /metrics out (see Analysis.black_box) */
  blackBox?: boolean;
}

/** A record with the app's /metrics readings taken out: what a system that exports nothing gives. */
export function withoutAppMetrics(run: RecordedRun): RecordedRun {
  const strip = (o: Record<string, unknown> | undefined) =>
    o ? Object.fromEntries(Object.entries(o).filter(([k]) => !k.endsWith(".metrics"))) : o;
  return {
    ...run,
    components: run.components.map((c) => ({
      ...c,
      readings: strip(c.readings) as typeof c.readings,
      missing: strip(c.missing) as typeof c.missing,
      ...(c.at ? { at: strip(c.at) as typeof c.at } : {}),
    })),
  };
}

export function analyze(recorded: RecordedRun, opts: AnalyzeOptions = {}): Analysis {
  const blackBox = opts.blackBox === true;
  const source = blackBox ? withoutAppMetrics(recorded) : recorded;
  const run = { ...source, faults: [...source.faults, ...loadEvents(source.scenario)] };
  const { scenario, plan } = run;
  const s = buildSeries(run.load, run.components, hostsOf(plan), mappedOf(plan));
  const cpuLimits: Record<string, number> = {};
  for (const [name, svc] of Object.entries(scenario.services)) if (svc.cpus) cpuLimits[name] = svc.cpus;

  const applied = run.faults.filter((f) => f.action === "apply");
  const firstFault = applied.length ? Math.floor(Math.min(...applied.map((f) => f.actual_ms)) / 1000) : s.seconds;
  const baseline: Span = { from: 0, to: firstFault };
  const impact: Span = { from: firstFault, to: s.seconds };
  const triggerEnd = triggerEndOf(run, s);
  const recoverySpan: Span | null = triggerEnd !== null && triggerEnd < s.seconds ? { from: triggerEnd, to: s.seconds } : null;

  const availTarget = scenario.slo.availability ?? DEFAULT_AVAILABILITY;
  // Latency counts against users when it breaks the declared p99, or — with none declared — when
  // the median user waits grossly longer: 10× the baseline median and at least 500 ms.
  const baseP50 = median(s.users.slice(baseline.from, baseline.to).flatMap((u) => (u.p50 === null ? [] : [u.p50])));
  const p50Limit = baseP50 === null ? null : Math.max(10 * baseP50, 500);
  const healthy = (t: number) => {
    const u = s.users[t];
    if (!u || u.success === null) return true;
    if (u.success < availTarget) return false;
    if (scenario.slo.p99 !== undefined) return u.p99 === null || u.p99 <= scenario.slo.p99;
    return p50Limit === null || u.p50 === null || u.p50 <= p50Limit;
  };

  const all = strongest(s, baseline, faultSpans(run, s, firstFault), cpuLimits, blackBox);
  // Ties go to a mechanism that carries harm: queuing is how any overload shows, not why.
  const ranked = [...all].sort((a, b) => b.score - a.score || Number(a.name === "queuing") - Number(b.name === "queuing"));
  let primary = ranked[0] && ranked[0].score >= 0.5 ? ranked[0] : null;
  let contributing = ranked.filter((m) => m !== primary && m.score >= 0.3);

  const impactSeconds = s.users.slice(impact.from, impact.to);
  const impactGood = impactSeconds.reduce((a, u) => a + u.good, 0);
  const impactOffered = impactSeconds.reduce((a, u) => a + u.offered, 0);
  // Responses to arrivals from before the first fault can land after it: cap at 100 %.
  const impactAvail = impactOffered > 0 ? Math.min(1, impactGood / impactOffered) : null;
  const unhealthySeconds = Array.from({ length: impact.to - impact.from }, (_, i) => impact.from + i).filter((t) => !healthy(t));
  // Backpressure is judged where users were hurt: the whole impact window would count the quiet
  // seconds after it as "admitted and served".
  const hurtSpan = unhealthySeconds.length ? { from: unhealthySeconds[0] as number, to: (unhealthySeconds.at(-1) as number) + 1 } : impact;
  // Admitted requests finish after they are admitted and users count them when they complete:
  // the second after the hurt ones holds the last of their successes (a 1 s burst of 2,000 had 69
  // admitted and 60 answered in its own second, the rest in the next).
  const bp = backpressure(s, { from: hurtSpan.from, to: Math.min(s.users.length, hurtSpan.to + 1) }, blackBox);
  // A blip is not a cascade: users must be outside the SLO for as long as recovery must hold.
  const usersHit = unhealthySeconds.length >= STABLE_SECONDS;

  const limitS = Math.round((scenario.slo.recovery ?? DEFAULT_RECOVERY_MS) / 1000);
  let recovery = recoveryOf(s, triggerEnd, healthy, limitS, recoverySpan, baseline, cpuLimits, blackBox);
  let path = propagation(run, s, baseline, impact, healthy, cpuLimits, availTarget);

  // When the data cannot tell.
  const reasons: string[] = [];
  const baseSeconds = baseline.to - baseline.from;
  const baseUsers = s.users.slice(baseline.from, baseline.to);
  const baseDropped = baseUsers.reduce((a, u) => a + u.dropped, 0);
  const baseOffered = baseUsers.reduce((a, u) => a + u.offered, 0);
  const baseUnhealthy = baseUsers.filter((_, i) => !healthy(baseline.from + i)).length;
  const offeredAll = s.users.reduce((a, u) => a + u.offered, 0);
  if (s.seconds === 0 || offeredAll === 0) reasons.push("no load was recorded: there is nothing to judge");
  if (applied.length === 0) reasons.push("no fault was applied: there is nothing to attribute");
  if (baseSeconds < 3) reasons.push(`the baseline before the first fault is ${baseSeconds} s; at least 3 s are needed to compare`);
  if (baseOffered > 0 && baseDropped / baseOffered > 0.05)
    reasons.push(
      `the load generator dropped ${pct(baseDropped / baseOffered)} of baseline arrivals: its connection cap, not the system, set the pace`,
    );
  if (baseSeconds >= 3 && baseUnhealthy > baseSeconds / 3)
    reasons.push(`users were already outside the SLO in ${baseUnhealthy} of ${baseSeconds} baseline seconds`);
  else if (baseSeconds >= 3) {
    // Collapsing as the fault came: the last seconds before it were already bad, whatever came before.
    let lastBad = 0;
    while (lastBad < baseSeconds && !healthy(baseline.to - 1 - lastBad)) lastBad++;
    if (lastBad >= STABLE_SECONDS)
      reasons.push(`users were outside the SLO for the last ${lastBad} s before the first fault: the system was failing before any fault`);
  }

  // The setup check is the harness verifying the scenario's own story (e.g. the reference app's
  // workers busy at baseline), not attribution: it reads everything recorded, black box or not.
  const setupSeries = blackBox ? buildSeries(recorded.load, recorded.components, hostsOf(plan), mappedOf(plan)) : s;
  const setup = checkSetup(scenario, setupSeries, firstFault, run.calibrations ?? []);
  let verdict: Analysis["verdict"];
  let summary: string;
  if (setup.failure) {
    verdict = "setup did not hold";
    summary = `${setup.failure.charAt(0).toUpperCase()}${setup.failure.slice(1)}. Nothing is concluded about the system: it was not under the pressure the scenario's story needs.`;
  } else if (reasons.length) {
    verdict = "inconclusive";
    summary = `Inconclusive: ${reasons.join("; ")}.`;
    // No causal story on a run the trigger cannot be said to have caused.
    primary = null;
    contributing = [];
    path = [];
    recovery = { ...recovery, metastable: null, sustained_by: null };
  } else if (usersHit && duringFault(run, unhealthySeconds, triggerEnd, recovery, ranked)) {
    verdict = "degraded during the fault";
    summary = `Degraded during the fault: users were outside the SLO for ${unhealthySeconds.length} s, all while a fault was in force, and within it again ${recovery.after_s} s after the trigger ended; no mechanism carried the harm beyond the faulted component.`;
    primary = null;
    contributing = ranked.filter((m) => m.score >= 0.3);
  } else if (usersHit && bp.held === true && recovery.recovered === true && !recovery.metastable) {
    // Overload refused at the door is containment, not propagation: admitted requests kept
    // succeeding and users were back within the SLO in time.
    verdict = "no cascade";
    summary = `Shedding contained it: ${pct(bp.shed_share ?? 0)} of requests were refused during the overload, ${pct(bp.admitted_success ?? 0)} of admitted ones succeeded, and users were within the SLO again ${recovery.after_s} s after the trigger ended.`;
  } else if (usersHit) {
    verdict = "cascade";
    const via = primary
      ? `, carried by ${primary.name}${contributing.length ? ` with ${contributing.map((m) => m.name).join(", ")}` : ""}`
      : ", with no mechanism's evidence above its threshold";
    const worstP50 = Math.max(...unhealthySeconds.map((t) => s.users[t]?.p50 ?? 0));
    summary = `The fault reached users for ${unhealthySeconds.length} s: ${impactAvail === null ? "-" : pct(impactAvail)} of arrivals served after it began (SLO ${pct(availTarget)}), median latency up to ${Math.round(worstP50)} ms${via}.`;
    if (recovery.metastable)
      summary += ` It stayed down after the trigger was gone (metastable), sustained by ${recovery.sustained_by ?? "an unidentified mechanism"}.`;
  } else {
    verdict = "no cascade";
    summary = `Users stayed within the SLO: ${impactAvail === null ? "-" : pct(impactAvail)} of arrivals served after the first fault.${bp.held ? ` Shedding held: ${pct(bp.shed_share ?? 0)} refused, admitted requests succeeded.` : ""}`;
  }

  return {
    verdict,
    ...(blackBox ? { black_box: true } : {}),
    summary,
    reasons,
    windows: { baseline, impact, recovery: recoverySpan, trigger_end_s: triggerEnd },
    primary,
    contributing,
    mechanisms: all,
    backpressure: bp,
    path,
    recovery,
    slo: sloGate(run, s, recovery, healthy),
    expectations: { pass: true, checks: [] },
    gaps: s.gaps,
    setup,
  };
}

/** Mechanisms that carry harm beyond the component a fault acts on: more work sent to a dependency,
 * more connections, processes dying. Queuing alone is what any outage does to waiting requests. */
const CARRIERS = new Set(["retries", "load-shift", "connection-churn", "restarts"]);
/** Seconds after a fault ends that its own harm may take to clear (requests already waiting). */
const FAULT_GRACE_S = 2;

/** Harm confined to the fault: every second users were outside the SLO lies between a fault's
 * start and its end (plus FAULT_GRACE_S), users were back within FAULT_GRACE_S of the trigger's
 * end, and no carrier mechanism reached a finding. Then it was the outage itself, not a cascade. */
function duringFault(
  run: RecordedRun,
  unhealthy: number[],
  triggerEnd: number | null,
  recovery: Analysis["recovery"],
  ranked: Mechanism[],
): boolean {
  if (triggerEnd === null || recovery.recovered !== true || (recovery.after_s ?? Infinity) > FAULT_GRACE_S) return false;
  if (ranked.some((m) => CARRIERS.has(m.name) && m.score >= 0.5)) return false;
  const applies = run.faults.filter((f) => f.action === "apply");
  const windows = applies.map((a) => {
    const revert = run.faults.find((f) => f.action === "revert" && f.fault === a.fault && f.actual_ms >= a.actual_ms);
    // A kill or stop lasts until the service is back: the trigger's end bounds it.
    return { from: Math.floor(a.actual_ms / 1000), to: (revert ? Math.ceil(revert.actual_ms / 1000) : triggerEnd) + FAULT_GRACE_S };
  });
  return unhealthy.every((t) => windows.some((w) => t >= w.from && t < w.to));
}

/** The stretches between fault changes (apply / revert) from the first fault to the end: a
 * mechanism shows in the stretch where its fault acted, diluted over the whole run it would not. */
function faultSpans(run: RecordedRun, s: Series, from: number): Array<Span & { label: string }> {
  const cuts = [...new Set(run.faults.filter((f) => f.action !== "error").map((f) => Math.round(f.actual_ms / 1000)))]
    .filter((t) => t >= from && t < s.seconds)
    .sort((a, b) => a - b);
  const labels = new Map<number, string>();
  for (const f of run.faults)
    if (f.action !== "error")
      labels.set(Math.round(f.actual_ms / 1000), `${f.action === "apply" ? "after" : "after revert of"} ${f.fault}`);
  const spans = cuts.map((c, i) => ({ from: c, to: cuts[i + 1] ?? s.seconds, label: labels.get(c) ?? `from ${c} s` }));
  // A stretch under 2 s (a 1 s burst) is measured together with the one after it.
  const merged: typeof spans = [];
  for (const x of spans) {
    const prev = merged.at(-1);
    if (prev && prev.to - prev.from < 2) prev.to = x.to;
    else merged.push({ ...x });
  }
  return merged.filter((x) => x.to - x.from >= 2);
}

/** For each mechanism, its strongest showing in any stretch, with where it was. */
function strongest(
  s: Series,
  base: Span,
  spans: Array<Span & { label: string }>,
  cpuLimits: Record<string, number>,
  blackBox: boolean,
): Mechanism[] {
  const best = new Map<string, Mechanism>();
  for (const span of spans.length ? spans : [{ from: base.to, to: s.seconds, label: "after the first fault" }]) {
    for (const m of mechanisms(s, base, span, cpuLimits, { blackBox })) {
      const prev = best.get(m.name);
      if (!prev || m.score > prev.score)
        best.set(m.name, { ...m, numbers: { ...m.numbers, window: `${span.label} (${span.from}-${span.to} s)` } });
    }
  }
  return [...best.values()];
}

/** When the trigger was gone: the last fault change, or later when a killed or stopped service only
 * came back after it (restart policy, start). null when a fault stayed active to the end. */
function triggerEndOf(run: RecordedRun, s: Series): number | null {
  const events = run.faults.filter((f) => f.action !== "error");
  if (!events.length) return null;
  const reverted = new Set(run.faults.filter((f) => f.action === "revert").map((f) => f.fault));
  const windowed = ["kill", "stop", "start", "restart", "host-down"];
  const open = events.filter((f) => f.action === "apply" && !windowed.includes(f.kind) && !reverted.has(f.fault));
  if (open.length) return null;
  let end = Math.ceil(Math.max(...events.map((f) => f.actual_ms + f.took_ms)) / 1000);
  for (const f of events.filter((e) => e.kind === "kill" || e.kind === "stop" || e.kind === "host-down")) {
    const svc = (f.detail?.service as string | undefined) ?? "";
    const rows = s.services[svc] ?? [];
    const from = Math.floor(f.actual_ms / 1000);
    const back = rows.findIndex((r, t) => t > from && r.running !== undefined && r.running >= (r.replicas ?? 1));
    if (back < 0 && rows.some((r) => r.running !== undefined)) return null;
    if (back > end) end = back;
  }
  return Math.min(end, s.seconds);
}

function recoveryOf(
  s: Series,
  triggerEnd: number | null,
  healthy: (t: number) => boolean,
  limitS: number,
  span: Span | null,
  baseline: Span,
  cpuLimits: Record<string, number>,
  blackBox: boolean,
): Analysis["recovery"] {
  if (triggerEnd === null || span === null)
    return { recovered: null, after_s: null, limit_s: limitS, metastable: null, sustained_by: null };
  const after = backWithin(s, triggerEnd, healthy);
  if (after !== null) {
    const late = after > limitS;
    return {
      recovered: true,
      after_s: after,
      limit_s: limitS,
      metastable: late,
      sustained_by: late ? sustainer(s, baseline, { from: triggerEnd, to: triggerEnd + after }, cpuLimits, blackBox) : null,
    };
  }
  const observed = s.seconds - triggerEnd;
  if (observed < limitS) return { recovered: false, after_s: null, limit_s: limitS, metastable: null, sustained_by: null };
  return {
    recovered: false,
    after_s: null,
    limit_s: limitS,
    metastable: true,
    sustained_by: sustainer(s, baseline, span, cpuLimits, blackBox),
  };
}

/** The strongest mechanism while users stayed degraded with the trigger gone. */
function sustainer(s: Series, baseline: Span, span: Span, cpuLimits: Record<string, number>, blackBox: boolean): string | null {
  const top = mechanisms(s, baseline, span, cpuLimits, { blackBox }).sort((a, b) => b.score - a.score)[0];
  return top && top.score >= 0.3 ? `${top.name} (${top.finding})` : null;
}

/** The order in which components crossed their own degradation threshold after the first fault. */
function propagation(
  run: RecordedRun,
  s: Series,
  base: Span,
  impact: Span,
  healthy: (t: number) => boolean,
  cpuLimits: Record<string, number>,
  availTarget: number,
): Step[] {
  const steps: Step[] = [];
  const applies = run.faults.filter((f) => f.action === "apply").sort((a, b) => a.actual_ms - b.actual_ms);
  // The path starts at the fault in force when users were first hurt (or the first fault).
  let hurt = impact.from;
  while (hurt < impact.to && healthy(hurt)) hurt++;
  const first = hurt < impact.to ? (applies.filter((f) => f.actual_ms <= (hurt + 1) * 1000).at(-1) ?? applies[0]) : applies[0];
  if (!first) return steps;
  impact = { from: Math.floor(first.actual_ms / 1000), to: impact.to };
  // A spike or a pause in the scenario's own load is a trigger, not a fault.
  const isLoad = (first.kind as string) === "load";
  const target = isLoad
    ? "load"
    : ((first.detail?.link as string | undefined) ?? (first.detail?.service as string | undefined) ?? first.fault);
  steps.push({
    component: target,
    at_s: Math.round(first.actual_ms / 100) / 10,
    why: isLoad ? `load change ${first.fault} to ${first.detail?.rate} req/s began` : `fault ${first.fault} (${first.kind}) applied`,
  });

  const baseMean = (svc: string, key: string) => {
    const xs = (s.services[svc] ?? []).slice(base.from, base.to).flatMap((r) => (r[key] === undefined ? [] : [r[key] as number]));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
  };
  for (const [svc, kind] of Object.entries(s.kinds)) {
    if (kind === "toxiproxy" || svc === target) continue;
    const rows = s.services[svc] ?? [];
    // a database's calls: Postgres's commits, MariaDB's Questions
    const callKey = kind === "mariadb" ? "questions_per_s" : "xact_commit_per_s";
    const dbBase = baseMean(svc, callKey);
    const qBase = baseMean(svc, "queue_depth");
    const test = (r: Record<string, number>): string | null => {
      if (r.replicas !== undefined && r.running !== undefined && r.running < r.replicas)
        return `${r.replicas - r.running} of ${r.replicas} containers down`;
      if ((kind === "memcached" || kind === "redis") && (r.rejected_connections_per_s ?? 0) > 0)
        return `rejected ${Math.round(r.rejected_connections_per_s ?? 0)} connections/s`;
      if (kind === "postgres" || kind === "mariadb") {
        const lim = cpuLimits[svc];
        if (lim && (r.cpu_cores ?? 0) >= 0.9 * lim) return `CPU at ${Math.round(((r.cpu_cores ?? 0) / lim) * 100)} % of its limit`;
        if ((r[callKey] ?? 0) > 2 * dbBase + 5)
          return `${Math.round(r[callKey] ?? 0)} ${kind === "mariadb" ? "statements" : "transactions"}/s (baseline ${Math.round(dbBase)})`;
        if (kind === "mariadb" && (r.aborted_connects_per_s ?? 0) > 0)
          return `refused ${Math.round(r.aborted_connects_per_s ?? 0)} connections/s (Aborted_connects)`;
      }
      if (kind === "app" || s.mapped?.[svc]) {
        if ((r.queue_depth ?? 0) > qBase + 5) return `queue ${r.queue_depth} deep`;
        if ((r.worker_restarts_per_s ?? 0) > 0) return `${Math.round(r.worker_restarts_per_s ?? 0)} worker restarts`;
        if ((r.requests_5xx_per_s ?? 0) > 0.05 * Math.max(1, r.requests_per_s ?? 0))
          return `${Math.round(r.requests_5xx_per_s ?? 0)} ${kind === "app" ? "503/s" : `errors/s (${s.mapped?.[svc]?.requests_5xx})`}`;
      }
      if (kind === "haproxy") {
        if ((r.hrsp_5xx_per_s ?? 0) > 0) return `${Math.round(r.hrsp_5xx_per_s ?? 0)} 5xx/s`;
        if (r.servers !== undefined && (r.servers_up ?? 0) < r.servers) return `${r.servers_up} of ${r.servers} servers up`;
      }
      return null;
    };
    for (let t = impact.from; t < impact.to; t++) {
      const why = rows[t] ? test(rows[t] as Record<string, number>) : null;
      if (why) {
        steps.push({ component: svc, at_s: t, why });
        break;
      }
    }
  }
  let usersStep: Step | undefined;
  for (let t = impact.from; t < impact.to; t++) {
    if (!healthy(t)) {
      const u = s.users[t];
      const served = u?.success === null || u?.success === undefined ? "-" : pct(u.success);
      // Hurt by latency while still served: say so, not "100 % served".
      const slow = u?.success !== null && u?.success !== undefined && u.success >= availTarget;
      usersStep = {
        component: "users",
        at_s: t,
        why: slow
          ? `slow: median ${Math.round(u?.p50 ?? 0)} ms, p99 ${u?.p99 === null ? "-" : Math.round(u?.p99 ?? 0)} ms (${served} served)`
          : `${served} served, p99 ${u?.p99 === null ? "-" : Math.round(u?.p99 ?? 0)} ms`,
      };
      break;
    }
  }
  // Along the dependency graph: the fault first, then each dependency before the services that
  // depend on it (the app before the LB relaying its errors or timing out on it, even when the
  // LB's threshold crossed a second earlier), by time among services at the same depth, and users
  // last: they see the end of the path, whatever second their threshold crossed. Each step keeps
  // its own second.
  const depth = dependencyDepth(run.scenario);
  const [fault, ...rest] = steps;
  rest.sort((a, b) => (depth.get(a.component) ?? 0) - (depth.get(b.component) ?? 0) || a.at_s - b.at_s);
  return [...(fault ? [fault] : []), ...rest, ...(usersStep ? [usersStep] : [])];
}

/** How far each service sits from the bottom of the dependency graph: 0 for a service that links
 * to nothing (a database, a cache), one more than its deepest dependency otherwise. */
function dependencyDepth(scenario: Scenario): Map<string, number> {
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const of = (svc: string): number => {
    const known = depth.get(svc);
    if (known !== undefined) return known;
    if (visiting.has(svc)) return 0; // a cycle: broken here
    visiting.add(svc);
    const deps = scenario.links.filter((l) => l.from === svc).map((l) => l.to);
    const haproxyBackend = scenario.services[svc]?.backend;
    const d = Math.max(-1, ...[...deps, ...(haproxyBackend ? [haproxyBackend] : [])].map(of)) + 1;
    visiting.delete(svc);
    depth.set(svc, d);
    return d;
  };
  for (const svc of Object.keys(scenario.services)) of(svc);
  return depth;
}

function sloGate(run: RecordedRun, s: Series, recovery: Analysis["recovery"], healthy: (t: number) => boolean): Analysis["slo"] {
  const slo = run.scenario.slo;
  const objectives: Objective[] = [];
  const offered = s.users.reduce((a, u) => a + u.offered, 0);
  const good = s.users.reduce((a, u) => a + u.good, 0);
  if (slo.availability !== undefined) {
    const a = offered > 0 ? good / offered : 0;
    objectives.push({
      name: "availability",
      target: `≥ ${pct(slo.availability)}`,
      measured: pct(a),
      pass: a >= slo.availability,
      value: a,
      limit: slo.availability,
      unit: "share",
    });
  }
  for (const q of ["p50", "p95", "p99"] as const) {
    const limit = slo[q];
    if (limit === undefined) continue;
    const v = run.latency?.[q] ?? null;
    objectives.push({
      name: `latency ${q}`,
      target: `≤ ${limit} ms`,
      measured: v === null ? "-" : `${Math.round(v)} ms`,
      pass: v !== null && v <= limit,
      value: v,
      limit,
      unit: "ms",
    });
  }
  if (slo.recovery !== undefined) {
    const limit = slo.recovery / 1000;
    let r = recovery.after_s;
    let measured = recovery.recovered ? `${r} s` : "not recovered";
    if (recovery.recovered === null) {
      // A fault that never ends (a kill with no start, a toxic never removed): users are judged
      // from the last fault's start, so a system that shrugged it off passes and one that did not fails.
      const applied = run.faults.filter((f) => f.action === "apply");
      const last = applied.length ? Math.ceil(Math.max(...applied.map((f) => f.actual_ms)) / 1000) : null;
      r = last === null ? null : backWithin(s, last, healthy);
      measured =
        last === null
          ? "not assessed: no fault was applied"
          : r === null
            ? "not recovered (the fault never ended)"
            : `${r} s (the fault never ended)`;
    }
    objectives.push({
      name: "recovery",
      target: `≤ ${limit} s after the last fault`,
      measured,
      pass: r !== null && r <= limit,
      value: r,
      limit,
      unit: "s",
    });
  }
  return { pass: objectives.every((o) => o.pass), objectives };
}

/** Seconds from `from` until users are within the SLO for STABLE_SECONDS in a row; null if never. */
function backWithin(s: Series, from: number, healthy: (t: number) => boolean): number | null {
  for (let t = from; t + STABLE_SECONDS <= s.seconds; t++) {
    let ok = true;
    for (let k = 0; k < STABLE_SECONDS; k++) ok &&= healthy(t + k);
    if (ok) return t - from;
  }
  return null;
}

/** The analysis, the scenario's `expect:` block and the gate: what `run` and `analyze` record. */
export function judge(run: RecordedRun, opts: AnalyzeOptions = {}): Analysis {
  const a = analyze(run, opts);
  a.expectations = checkExpectations(a, run.scenario);
  // A fault that never applied: the system was not put through the scenario. A failed revert is
  // not counted here: reverting an `app` setting fails when the app is crash-looping, which is the
  // naive stories' own outcome (a rollback that cannot reach the processes), and the fault then
  // acted longer than declared; the summary lists it with the other fault errors.
  const faultErrors = run.faults
    .filter((f) => f.action === "error" && !f.error?.startsWith("revert failed"))
    .map((f) => `${f.fault}: ${f.error ?? "failed"}`);
  a.gate = decideGate(a, run.scenario, {
    ...(run.status ? { status: run.status } : {}),
    ...(run.error ? { error: run.error } : {}),
    ...(faultErrors.length ? { faultErrors } : {}),
  });
  return a;
}

/** The scenario's `expect:` block against the analysis (a CI gate). */
export function checkExpectations(a: Analysis, scenario: Scenario): Analysis["expectations"] {
  const e = scenario.expect;
  const checks: Objective[] = [];
  if (!e) return { pass: true, checks };
  if (e.cascade !== undefined)
    checks.push({
      name: "cascade",
      target: e.cascade ? "cascade" : "no cascade",
      measured: a.verdict,
      // degraded during the fault is not a cascade
      pass: e.cascade ? a.verdict === "cascade" : a.verdict === "no cascade" || a.verdict === "degraded during the fault",
    });
  const found = [a.primary, ...a.contributing].filter((m): m is Mechanism => m !== null).map((m) => m.name);
  for (const m of e.mechanisms ?? [])
    checks.push({
      name: `mechanism ${m}`,
      target: "found",
      measured: found.includes(m) ? "found" : `not found (found: ${found.join(", ") || "none"})`,
      pass: found.includes(m),
    });
  if (e.metastable !== undefined)
    checks.push({
      name: "metastable",
      target: String(e.metastable),
      measured: String(a.recovery.metastable),
      pass: a.recovery.metastable === e.metastable,
    });
  if (e.backpressure !== undefined) {
    const held = a.backpressure.held;
    checks.push({
      name: "backpressure",
      target: e.backpressure,
      measured: held === null ? "no shedding" : held ? "held" : "failed",
      pass: held === (e.backpressure === "held"),
    });
  }
  return { pass: checks.every((c) => c.pass), checks };
}
