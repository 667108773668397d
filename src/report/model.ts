// The run as a report sees it: the recorded run, its analysis, the per-second series, the fault
// windows to shade and the container events to mark — every time in seconds since load start.
// Built once per run and shared by the charts, the HTML page and the Markdown summary.
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { judge, loadEvents, type Analysis, type RecordedRun } from "../analyze/analyze.js";
import { decideGate } from "../analyze/gate.js";
import { buildSeries, hostsOf, mappedOf, type Series } from "../analyze/series.js";
import { readRunFolder } from "../analyze/stored.js";
import type { FaultEvent } from "../faults/scheduler.js";
import { FILES, readJsonFile } from "../observe/record.js";

/** A stretch during which a fault (or a load shape) acted; `to === from` for an instant action. */
export interface FaultWindow {
  name: string;
  kind: string;
  from: number;
  to: number;
  /** what it acted on: a service, a link, or the load */
  target: string;
  /** a load shape (spike, pause) rather than an injected fault */
  load: boolean;
  /** closed by a later action (e.g. a kill closed by a start): its name */
  closedBy?: string;
}

/** A point event on a service: a container died, was OOM-killed, came back; a worker was replaced. */
export interface Mark {
  t: number;
  service: string;
  what: "died" | "OOM kill" | "restart" | "started" | "worker restart";
  detail: string;
  /** the container's replica number (0 for a service-wide count): each replica gets its own lane,
   * so replicas crashing in the same second show as separate marks */
  replica: number;
}

/** One line of the run's timeline, for the events table. */
export interface TimelineRow {
  t: number;
  source: "fault" | "container" | "action";
  what: string;
  detail: string;
}

export interface ContainerEventLine {
  type: "container";
  time: string;
  service: string;
  replica: number;
  action: string;
  exitCode?: number;
}

export interface RunMeta {
  /** the run folder's name (a timestamp) and the scenario folder above it */
  id: string;
  dir: string;
  status?: string;
  started?: string;
  error?: string;
}

/** A hand action of a game day (src/gameday/): a load change, a note, a halt… with who did it. */
export interface ActionLine {
  type: "action";
  time: string;
  /** ms from load start */
  at_ms: number;
  by: string;
  action: string;
  /** what it did, in words */
  text: string;
}

/** The model without the analysis: what the charts need, so a live page can draw them each second. */
export type LiveModel = Omit<ReportModel, "analysis">;

export interface ReportModel {
  meta: RunMeta;
  run: RecordedRun;
  analysis: Analysis;
  series: Series;
  /** fault events including the load shapes the analysis treats as triggers */
  faults: FaultEvent[];
  windows: FaultWindow[];
  marks: Mark[];
  timeline: TimelineRow[];
  /** service → CPU limit in cores, where declared */
  cpuLimits: Record<string, number>;
}

/** Reads a run folder: the recorded run, its analysis (analysis.json when present, else computed now). */
export function loadModel(dir: string): ReportModel {
  const { run, events, result } = readRunFolder(dir);
  const analysisFile = join(dir, FILES.analysis);
  const analysis = existsSync(analysisFile) ? readJsonFile<Analysis>(analysisFile) : null;
  const containers = events.filter((e): e is ContainerEventLine => e.type === "container");
  const actions = events.filter((e): e is ActionLine => e.type === "action");
  const meta: RunMeta = {
    id: `${basename(dirname(dir))}/${basename(dir)}`,
    dir,
    ...(typeof result.status === "string" ? { status: result.status } : {}),
    ...(typeof result.started === "string" ? { started: result.started } : {}),
    ...(typeof result.error === "string" ? { error: result.error } : {}),
  };
  return buildModel(run, analysis, containers, meta, actions);
}

/** The model from data already in memory (a live run, a test, the benchmark). */
export function buildModel(
  run: RecordedRun,
  stored: Analysis | null,
  containers: ContainerEventLine[],
  meta: RunMeta,
  actions: ActionLine[] = [],
): ReportModel {
  const analysis = stored ?? judge(run);
  // Records from before the gate existed: decide it here, from the status result.json gives.
  analysis.gate ??= decideGate(analysis, run.scenario, {
    ...(meta.status === "completed" || meta.status === "interrupted" || meta.status === "error" ? { status: meta.status } : {}),
    ...(meta.error ? { error: meta.error } : {}),
  });
  return { ...liveModel(run, containers, meta, actions), analysis };
}

/** Series, shaded windows, marks and timeline of a run, recorded or still going (no analysis). */
export function liveModel(run: RecordedRun, containers: ContainerEventLine[], meta: RunMeta, actions: ActionLine[] = []): LiveModel {
  const hosts = hostsOf(run.plan);
  const series = buildSeries(run.load, run.components, hosts, mappedOf(run.plan));
  const faults = [...run.faults, ...loadEvents(run.scenario)].sort((a, b) => a.actual_ms - b.actual_ms);
  const cpuLimits: Record<string, number> = {};
  for (const [name, svc] of Object.entries(run.scenario.services)) if (svc.cpus) cpuLimits[name] = svc.cpus;
  const t0 = loadStart(run);
  const marks = marksOf(series, containers, t0);
  return {
    meta,
    run,
    series,
    faults,
    windows: windowsOf(faults, series),
    marks,
    timeline: timelineOf(faults, containers, actions, t0),
    cpuLimits,
  };
}

/** Wall-clock ms of load second 0: from a fault event (time and offset both recorded), else the first load second. */
function loadStart(run: RecordedRun): number | null {
  for (const f of run.faults) {
    const at = Date.parse(f.time);
    if (Number.isFinite(at)) return at - f.actual_ms;
  }
  const first = run.load[0] as { ts?: string } | undefined;
  const at = first?.ts ? Date.parse(first.ts) : Number.NaN;
  return Number.isFinite(at) ? at : null;
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;
/** A load shape (spike, pause) the analysis adds as a trigger: not a fault kind of the scenario schema. */
const isLoad = (f: FaultEvent) => (f.kind as string) === "load";
const targetOf = (f: FaultEvent) => (f.detail?.link as string | undefined) ?? (f.detail?.service as string | undefined) ?? "";

/** Pairs each apply with its revert; a kill or stop with the start that brought the service back
 * (or the second its containers were all running again); an action left active runs to the end. */
export function windowsOf(faults: FaultEvent[], s: Series): FaultWindow[] {
  const out: FaultWindow[] = [];
  const consumed = new Set<FaultEvent>();
  const applies = faults.filter((f) => f.action === "apply");
  for (const f of applies) {
    if (consumed.has(f)) continue;
    const from = seconds(f.actual_ms);
    const target = isLoad(f) ? "load" : targetOf(f);
    const base = { name: f.fault, kind: f.kind, from, target, load: isLoad(f) };
    const revert = faults.find((r) => r.action === "revert" && r.fault === f.fault && r.actual_ms >= f.actual_ms);
    if (revert) {
      out.push({ ...base, to: seconds(revert.actual_ms) });
      continue;
    }
    // A host-down with a duration was closed by its revert above; without one it is a kill's kin.
    if (f.kind === "kill" || f.kind === "stop" || f.kind === "host-down") {
      const back = applies.find(
        (g) => (g.kind === "start" || g.kind === "restart") && g.actual_ms > f.actual_ms && targetOf(g) === target && !consumed.has(g),
      );
      if (back) {
        consumed.add(back);
        out.push({ ...base, to: seconds(back.actual_ms + back.took_ms), closedBy: back.fault });
        continue;
      }
      const rows = s.services[target] ?? [];
      const t = Math.floor(from);
      const up = rows.findIndex((r, i) => i > t && r.running !== undefined && r.running >= (r.replicas ?? 1));
      const down = rows.some((r, i) => i > t && r.running !== undefined && r.running < (r.replicas ?? 1));
      out.push({ ...base, to: down ? (up > 0 ? up : s.seconds) : from });
      continue;
    }
    if (f.kind === "start" || f.kind === "restart") {
      out.push({ ...base, to: from });
      continue;
    }
    // Applied and never reverted: active to the end of the run.
    out.push({ ...base, to: s.seconds });
  }
  return out;
}

/** Container events (died, OOM-killed, started again) and worker replacements inside the app. */
function marksOf(s: Series, containers: ContainerEventLine[], t0: number | null): Mark[] {
  const marks: Mark[] = [];
  const add = (t: number, service: string, what: Mark["what"], detail: string, replica = 0) =>
    marks.push({ t, service, what, detail, replica });
  const died = new Set<string>();
  if (t0 !== null) {
    for (const e of containers) {
      const t = seconds(Date.parse(e.time) - t0);
      if (!Number.isFinite(t) || t < 0 || t > s.seconds + 1) continue;
      const who = `${e.service}-${e.replica}`;
      if (e.action === "die") {
        died.add(who);
        add(t, e.service, "died", `${who} exited${e.exitCode === undefined ? "" : ` with code ${e.exitCode}`}`, e.replica);
      } else if (e.action === "oom") add(t, e.service, "OOM kill", `${who} was OOM-killed`, e.replica);
      else if (e.action === "restart") add(t, e.service, "restart", `${who} restarted`, e.replica);
      else if (e.action === "start" && died.has(who)) add(t, e.service, "started", `${who} started again`, e.replica);
    }
  }
  const dockerOom = containers.some((e) => e.action === "oom");
  for (const [svc, rows] of Object.entries(s.services))
    rows.forEach((r, t) => {
      const n = r.worker_restarts_per_s ?? 0;
      if (n > 0) add(t, svc, "worker restart", `${n} worker(s) replaced`);
      if (!dockerOom && (r.oom_kills ?? 0) > 0) add(t, svc, "OOM kill", `${r.oom_kills} container(s) OOM-killed`);
    });
  return marks.sort((a, b) => a.t - b.t);
}

function timelineOf(faults: FaultEvent[], containers: ContainerEventLine[], actions: ActionLine[], t0: number | null): TimelineRow[] {
  const rows: TimelineRow[] = [];
  for (const f of faults) {
    const target = isLoad(f) ? "load" : targetOf(f);
    const what = `${f.action} ${f.fault} (${f.kind}${target ? ` on ${target}` : ""})`;
    const detail =
      f.action === "error"
        ? `failed: ${f.error ?? "unknown error"}`
        : isLoad(f)
          ? ""
          : f.by !== undefined
            ? `by ${f.by}, took ${f.took_ms} ms`
            : `planned ${seconds(f.planned_ms)} s, lag ${f.lag_ms} ms, took ${f.took_ms} ms`;
    rows.push({ t: seconds(f.actual_ms), source: "fault", what, detail });
  }
  for (const a of actions) rows.push({ t: seconds(a.at_ms), source: "action", what: a.text, detail: `by ${a.by}` });
  if (t0 !== null)
    for (const e of containers) {
      const t = seconds(Date.parse(e.time) - t0);
      if (!Number.isFinite(t) || t < 0) continue;
      rows.push({
        t,
        source: "container",
        what: `${e.service}-${e.replica} ${e.action}`,
        detail: e.exitCode === undefined ? "" : `exit code ${e.exitCode}`,
      });
    }
  return rows.sort((a, b) => a.t - b.t);
}
