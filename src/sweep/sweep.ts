// A sweep: every grid point a full run (the same path as `cascade run`, its own record folder under
// the sweep folder), classified from its analysis, recorded in sweep.json after each run so an
// interrupted sweep resumes where it stopped; then the map. Points run one at a time (a run owns the
// machine's CPU: two at once would measure each other), each optionally under a flock(1) lock so
// other Docker workloads interleave between points.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { gateOfRun } from "../analyze/gate.js";
import type { ImageSource } from "../images/catalog.js";
import { runScenario } from "../run/run.js";
import type { Scenario } from "../scenario/schema.js";
import { classify } from "./classify.js";
import { majority } from "./classify.js";
import { type Axis, describePoint, expand, type GridPoint, SweepUsage, type Value } from "./grid.js";
import { applyOverrides, type Override } from "./override.js";
import { readSweep, SWEEP_SCHEMA_VERSION, type SweepPoint, type SweepRecord, writeSweep } from "./record.js";

/** Images, topology up, calibration and teardown around a run's load, s: measured 15–25 s here;
 * replaced by the mean of the runs already recorded once there are some. */
export const SETUP_OVERHEAD_S = 20;

export interface PlannedPoint extends GridPoint {
  scenario: Scenario;
  source: string;
}

export interface SweepPlan {
  file: string;
  name: string;
  axes: Axis[];
  set: { path: string; value: Value | string }[];
  repeat: number;
  points: PlannedPoint[];
  /** the load's length, s (the same at every point unless a phase duration is varied: then the longest) */
  load_s: number;
  recovery_limit_s: number | null;
}

/** Every point's scenario, made and validated before anything starts. */
export function planSweep(
  file: string,
  source: string,
  axes: Axis[],
  set: { path: string; value: Value | string; flag: string }[],
  repeat: number,
  /** the --vary flags as written, for error lines */
  flags: string[] = [],
): SweepPlan {
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new SweepUsage(`--repeat ${repeat}: give a whole number 1–20`);
  const grid = expand(axes);
  const baseDir = dirname(resolve(file));
  const points = grid.map((g) => {
    const overrides: Override[] = [
      ...set.map((s) => ({ path: s.path, value: s.value as Value, flag: s.flag })),
      ...axes.map((a, i) => ({ path: a.path, value: g.values[i] as Value, flag: flags[i] ?? `--vary ${a.path}` })),
    ];
    return { ...g, ...applyOverrides(source, file, overrides, baseDir) };
  });
  const loadS = (s: Scenario) => s.load.phases.reduce((t, p) => t + p.duration, 0) / 1000;
  const first = points[0] as PlannedPoint;
  return {
    file,
    name: first.scenario.name,
    axes,
    set: set.map(({ path, value }) => ({ path, value })),
    repeat,
    points,
    load_s: Math.max(...points.map((p) => loadS(p.scenario))),
    recovery_limit_s: first.scenario.slo.recovery !== undefined ? first.scenario.slo.recovery / 1000 : null,
  };
}

/** Runs still to do, and the time they should take. */
export function estimate(
  plan: SweepPlan,
  rec: SweepRecord | undefined,
): { runs: number; per_run_s: number; total_s: number; basis: string } {
  const done = new Map(rec?.points.map((p) => [p.id, p.runs.length]) ?? []);
  const runs = plan.points.reduce((n, p) => n + Math.max(0, plan.repeat - (done.get(p.id) ?? 0)), 0);
  const walls = rec?.points.flatMap((p) => p.runs.map((r) => r.wall_s)) ?? [];
  const measured = walls.length ? walls.reduce((a, b) => a + b, 0) / walls.length : null;
  const per = measured ?? plan.load_s + SETUP_OVERHEAD_S;
  const basis =
    measured !== null
      ? `${Math.round(measured)} s a run, the mean of the ${walls.length} recorded`
      : `${plan.load_s} s of load + ~${SETUP_OVERHEAD_S} s of topology up, calibration and teardown`;
  return { runs, per_run_s: per, total_s: runs * per, basis };
}

export const minutes = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);

/** The record to continue (resume) or a new one; a record made for another grid is refused. */
export function openRecord(dir: string, plan: SweepPlan, resume: boolean): SweepRecord {
  const old = readSweep(dir);
  if (old && !resume) throw new SweepUsage(`${dir} already holds a sweep: pass --resume to continue it, or --out <dir> for a new one`);
  if (old) {
    const same =
      old.scenario === plan.name &&
      JSON.stringify(old.axes) === JSON.stringify(plan.axes) &&
      JSON.stringify(old.set) === JSON.stringify(plan.set);
    if (!same)
      throw new SweepUsage(
        `--resume: ${dir} holds a sweep of ${old.scenario} over ${old.axes.map((a) => `${a.path}=${a.values.join(",")}`).join(" × ")}${old.set.length ? ` with ${old.set.map((s) => `${s.path}=${s.value}`).join(", ")}` : ""}; these flags ask for another grid`,
      );
    return { ...old, repeat: plan.repeat };
  }
  const now = new Date().toISOString();
  return {
    schema_version: SWEEP_SCHEMA_VERSION,
    scenario: plan.name,
    scenario_file: plan.file,
    axes: plan.axes,
    set: plan.set,
    repeat: plan.repeat,
    recovery_limit_s: plan.recovery_limit_s,
    started: now,
    updated: now,
    wall_s: 0,
    points: plan.points.map((p) => ({ id: p.id, values: p.values, runs: [], class: null, split: false })),
  };
}

/** Holds a flock(1) lock on `file` until release() (a child `flock` process that waits on its
 * stdin; closing it frees the lock). Waits at most `waitS` for it. */
export async function takeLock(file: string, waitS: number, signal: AbortSignal): Promise<() => void> {
  const child = spawn("flock", ["-w", String(waitS), file, "sh", "-c", "echo held; read _"], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (b: Buffer) => {
    err += b.toString();
  });
  await new Promise<void>((ok, fail) => {
    const onAbort = () => {
      child.kill("SIGTERM");
      fail(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    child.stdout.once("data", () => {
      signal.removeEventListener("abort", onAbort);
      ok();
    });
    child.once("error", (e) => fail(new Error(`flock: ${e.message}`)));
    child.once("exit", (code) =>
      fail(new Error(`flock ${file}: exited ${code} before holding it (waited up to ${waitS} s) ${err.trim()}`)),
    );
  });
  return () => {
    child.stdin.end();
  };
}

export interface SweepRunOptions {
  dir: string;
  source: ImageSource;
  fallbackOffline: boolean;
  signal: AbortSignal;
  /** one line per point, and the run's own lines (indented) */
  progress: (line: string) => void;
  verbose: boolean;
  lock?: string;
}

/** Runs the points still to do; returns when all are recorded or the signal aborts. */
export async function runSweep(plan: SweepPlan, rec: SweepRecord, o: SweepRunOptions): Promise<{ interrupted: boolean; ran: number }> {
  mkdirSync(o.dir, { recursive: true });
  writeSweep(o.dir, rec);
  const total = estimate(plan, rec).runs;
  let ran = 0;
  for (const p of plan.points) {
    const point = rec.points.find((x) => x.id === p.id) as SweepPoint;
    while (point.runs.length < plan.repeat) {
      if (o.signal.aborted) return { interrupted: true, ran };
      const label = `[${ran + 1}/${total}] ${p.id} ${describePoint(plan.axes, p.values)}${plan.repeat > 1 ? ` (run ${point.runs.length + 1} of ${plan.repeat})` : ""}`;
      let release: (() => void) | undefined;
      if (o.lock) {
        o.progress(`${label}: waiting for the lock ${o.lock}`);
        try {
          release = await takeLock(o.lock, 3600, o.signal);
        } catch (e) {
          if (o.signal.aborted) return { interrupted: true, ran };
          throw e;
        }
      }
      o.progress(`${label}: running`);
      const t0 = Date.now();
      let result: Awaited<ReturnType<typeof runScenario>>;
      try {
        result = await runScenario(p.scenario, p.source, {
          source: o.source,
          fallbackOffline: o.fallbackOffline,
          signal: o.signal,
          outDir: join(o.dir, "runs"),
          progress: (l) => {
            if (o.verbose) o.progress(`    ${l}`);
          },
        });
      } finally {
        release?.();
      }
      const wall = (Date.now() - t0) / 1000;
      if (result.status === "interrupted") {
        o.progress(`${label}: interrupted after ${Math.round(wall)} s; not recorded (its folder: ${relative(o.dir, result.dir)})`);
        return { interrupted: true, ran };
      }
      const gate = gateOfRun(result, p.scenario);
      const c = classify({ status: result.status, ...(result.analysis ? { analysis: result.analysis } : {}), gate });
      point.runs.push({
        dir: relative(o.dir, result.dir),
        run_id: result.run_id,
        status: result.status,
        class: c.class,
        figures: c.figures,
        wall_s: Math.round(wall * 10) / 10,
      });
      const m = majority(point.runs.map((r) => r.class));
      point.class = m.class;
      point.split = m.split;
      rec.wall_s = Math.round((rec.wall_s + wall) * 10) / 10;
      rec.updated = new Date().toISOString();
      writeSweep(o.dir, rec);
      ran++;
      const left = estimate(plan, rec);
      const why =
        c.class === "metastable"
          ? ` (sustained by ${c.figures.sustained_by?.split(" (")[0] ?? "an unidentified mechanism"})`
          : c.class === "recovered" || c.class === "recovered late"
            ? ` (back ${c.figures.recovered_after_s} s after the trigger)`
            : c.figures.note
              ? ` (${c.figures.note})`
              : "";
      o.progress(`${label}: ${c.class}${why} — ${Math.round(wall)} s; ${left.runs} run(s) left, ~${minutes(left.total_s)}`);
    }
  }
  return { interrupted: false, ran };
}
