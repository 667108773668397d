// One run, start to end: validate → images → plan → topology up → load + fault timeline →
// teardown. Teardown and the result file happen in `finally`, whatever ended the run.
import { randomBytes } from "node:crypto";
import { loadScenario } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";
import { planTopology, redactedPlan, type TopologyPlan } from "../topology/plan.js";
import { redactSource } from "../scenario/secrets.js";
import { StopCondition } from "./abort.js";
import { describeLoad } from "../topology/describe.js";
import type { ImageSource } from "../images/catalog.js";
import { calibrationNeeds } from "../calibrate/needs.js";
import type { DbCalibration } from "../calibrate/postgres.js";
import { bringUp, type ImagesUsed } from "./up.js";
import { DockerRuntime } from "../runtime/docker/runtime.js";
import type { Cluster } from "../runtime/swarm/cluster.js";
import { SwarmRuntime } from "../runtime/swarm/runtime.js";
import type { Runtime } from "../runtime/types.js";
import { reap } from "../runtime/docker/labels.js";
import type { TeardownReport } from "../runtime/types.js";
import { Timeline, type FaultEvent } from "../faults/scheduler.js";
import type { GeneratorFigure, LoadControl, LoadSample, LoadSpec, RatePhase } from "../load/driver.js";
import { prepareLoad, type PreparedLoad } from "../load/generators.js";
import { FILES, RECORD_SCHEMA_VERSION, RecordUnwritable, RunRecord } from "../observe/record.js";
import { windows, stats, type WindowStats } from "../analyze/windows.js";
import { judge, firstFaultMs, loadEvents, type Analysis } from "../analyze/analyze.js";
import { checkSetup } from "../analyze/baseline.js";
import { buildSeries, hostsOf, mappedOf } from "../analyze/series.js";
import { Observer, type ComponentsSample } from "../observe/observer.js";
import { samplersFor } from "../observe/samplers.js";
import { junitXml } from "../report/junit.js";
import { reportsDir } from "../paths.js";

export interface RunOptions {
  source: ImageSource;
  /** the source was the default, not asked for: with no registry, build offline instead */
  fallbackOffline?: boolean;
  progress: (line: string) => void;
  signal: AbortSignal;
  outDir?: string;
  /** A run steered by hand (a game day, src/gameday/): its load and faults are driven live. */
  live?: LiveRun;
  /** Where the topology runs: this machine's engine (default), or a swarm's nodes. */
  swarm?: Cluster;
}

/** What a run steered by hand adds to a scripted one. */
export interface LiveRun {
  /** the load's profile from its start (the scenario's phases held to the session's horizon) */
  phases: RatePhase[];
  control: LoadControl;
  /** Told once the load starts: the timeline takes faults by hand; t0 is the load start (performance.now()). */
  started(parts: { timeline: Timeline; plan: TopologyPlan; t0: number; note: (e: object) => void }): void;
  /** each fault event (the timeline's and those by hand), load second and components sample, as recorded */
  onFault?(e: FaultEvent): void;
  onLoad?(s: LoadSample): void;
  onComponents?(c: ComponentsSample): void;
  /** After the load ended: resolves when the session ends (the faults are reverted and the
   * topology torn down after it). Bounded by the caller. */
  ended(signal: AbortSignal): Promise<void>;
  /** The scenario as it was played (load phases as applied, faults at their times): it replaces
   * the record's scenario.yaml and is what the run is judged on. */
  asPlayed(): { scenario: Scenario; source: string };
}

export interface RunResult {
  scenario: string;
  run_id: string;
  dir: string;
  status: "completed" | "interrupted" | "error";
  error?: string;
  started: string;
  ended: string;
  timings_ms: { images: number; topology_up: number; load: number; teardown: number };
  totals: WindowStats;
  windows: WindowStats[];
  faults: FaultEvent[];
  /** where the load went, and how the harness reached the containers: their addresses on the run's
   * bridge, or published ports on 127.0.0.1 through docker-proxy */
  target?: { url: string; route: "bridge" | "published" };
  /** the image source, and each role's image reference and ID: exactly what ran */
  images?: ImagesUsed;
  /** what one CPU-millisecond of each calibrated database is on this host (declared CPU time is converted with it) */
  calibrations: DbCalibration[];
  /** whole-run latency from the load driver's histogram */
  latency?: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
  analysis?: Analysis;
  teardown?: TeardownReport;
  leftovers_removed: number;
  /** the scenario's stop condition (`abort:`) ended the load early: when, and why */
  stopped_early?: { at_s: number; reason: string };
  /** with load.generators > 1: each generator process's share, what it sent and its health (a
   * generator behind or lost makes the run a harness error) */
  load_generators?: GeneratorFigure[];
}

/** result.json as written (schema: schemas/result.schema.json). */
export type StoredResult = Omit<RunResult, "analysis"> & {
  schema_version: number;
  /** the analysis's file in the run folder, when the run has one */
  analysis_file?: string;
};

/** analysis.json as written (schema: schemas/analysis.schema.json). */
export type StoredAnalysis = Analysis & { schema_version: number };

export async function runScenarioFile(file: string, opts: RunOptions): Promise<RunResult> {
  const { scenario, source } = await loadScenario(file);
  return runScenario(scenario, source, opts);
}

export async function runScenario(declared: Scenario, source: string, opts: RunOptions): Promise<RunResult> {
  let scenario = declared;
  const { progress, signal } = opts;
  const started = new Date();
  const runId = randomBytes(4).toString("hex");
  const plan = planTopology(scenario);
  const record = new RunRecord(opts.outDir ?? reportsDir(), scenario.name, started, runId);
  // The record never holds a literal secret: redacted here, ${NAME} references resolved only at
  // container creation.
  try {
    record.write(FILES.scenario, redactSource(source));
    record.write(FILES.plan, redactedPlan(plan));
  } catch (e) {
    throw e instanceof RecordUnwritable ? new RecordUnwritable(e.message, false) : e;
  }
  const samples: LoadSample[] = [];
  const components: ComponentsSample[] = [];
  const faults: FaultEvent[] = [];
  let latency: RunResult["latency"];
  let observer: Observer | undefined;
  const timings = { images: 0, topology_up: 0, load: 0, teardown: 0 };
  const event = (e: object) => record.event({ time: new Date().toISOString(), ...e });
  let status: RunResult["status"] = "completed";
  let error: string | undefined;
  let teardown: TeardownReport | undefined;
  let timeline: Timeline | undefined;
  let stopWatch: (() => void) | undefined;
  let targetInfo: RunResult["target"];
  let images: ImagesUsed | undefined;
  let calibrations: DbCalibration[] = [];
  let load: PreparedLoad | undefined;
  let generators: GeneratorFigure[] | undefined;
  // Aborts the load when the baseline shows the setup did not hold: the run ends "completed" and
  // its analysis says so, with no fault applied to a system that was not under the needed pressure.
  const setupStop = new AbortController();
  // The scenario's own stop condition (abort:): the load ends early, faults are reverted as usual.
  const stopCondition = scenario.abort ? new StopCondition(scenario.abort) : undefined;
  const abortStop = new AbortController();
  let stoppedEarly: RunResult["stopped_early"];
  // The run's lease lost mid-run (its reaper stopped, and is removing the run), or its record no
  // longer written (a full disk): a harness error, the run stops and is torn down.
  const harnessBroke = new AbortController();
  record.onFailure = (why) => {
    progress(`${why} — stopping the run`);
    harnessBroke.abort(new Error(why));
  };

  // Leftovers of runs whose harness died (SIGKILL) go first; live concurrent runs are left alone.
  const reaped = await reap(false);
  for (const r of reaped)
    progress(`removed leftovers of run ${r.run} (owner ${r.owner}, lease expired): ${r.containers} containers, ${r.networks} networks`);

  const runtime: Runtime = opts.swarm ? new SwarmRuntime(runId, opts.swarm) : new DockerRuntime(runId);
  // Made before the topology, so a reader can take its connection as soon as its component is up.
  const samplers = samplersFor(plan, runtime);
  try {
    const up = await bringUp(plan, runtime, {
      source: opts.source,
      fallbackOffline: opts.fallbackOffline ?? false,
      progress,
      signal: AbortSignal.any([signal, harnessBroke.signal]),
      calibrate: calibrationNeeds(scenario),
      onLeaseLost: (why) => {
        progress(why);
        harnessBroke.abort(new Error(why));
      },
      onComponentReady: async (c) => {
        // Bounded by the reader's own timeout; a failure is retried by its first read.
        for (const s of samplers) if (s.name === c.host && s.open) await s.open().catch(() => {});
      },
    });
    const toxiproxy = up.toxiproxy;
    calibrations = up.calibrations;
    images = up.images;
    timings.images = up.images_ms;
    timings.topology_up = up.up_ms;
    for (const c of calibrations) event({ type: "calibration", calibration: c });
    event({ type: "topology", action: "up", ms: timings.topology_up, containers: plan.containers.map((c) => c.host) });
    stopWatch = await runtime.watch((e) => event({ type: "container", ...e }));

    const target = await runtime.endpoint(plan.target.service, 1, plan.target.port);
    const url = `http://${target.host}:${target.port}${scenario.load.path}`;
    const route = await runtime.route();
    targetInfo = { url, route };
    progress(`load: ${describeLoad(scenario.load)} → ${url}${route === "bridge" ? " (on the run's bridge)" : " (published port)"}`);
    const spec: LoadSpec = {
      url,
      method: scenario.load.method,
      phases: opts.live?.phases ?? scenario.load.phases,
      timeout: scenario.load.timeout,
      connections: scenario.load.connections,
      ownHosts: [target.host],
    };
    // A game day steers its load through one in-process driver (LoadControl); `cascade gameday`
    // refuses generators > 1 before anything starts, this is the same rule for API callers.
    if (opts.live && scenario.load.generators > 1)
      throw new Error(`load.generators: ${scenario.load.generators} — a steered load (game day) runs in one driver; use generators: 1`);
    // The generator processes come up before the clock starts, so the load starts with the timeline.
    load = await prepareLoad(spec, scenario.load.generators, AbortSignal.any([signal, harnessBroke.signal]));
    timeline = new Timeline(scenario.faults, { runtime, ...(toxiproxy ? { toxiproxy } : {}) }, (e) => {
      faults.push(e);
      record.event(e);
      opts.live?.onFault?.(e);
      progress(`  ${(e.actual_ms / 1000).toFixed(1).padStart(5)} s  ${e.action} ${e.fault}${e.error ? ` — ${e.error}` : ""}`);
    });
    observer = new Observer(samplers, (c) => {
      components.push(c);
      record.sample(c);
      opts.live?.onComponents?.(c);
    });
    const t = Date.now();
    const t0 = performance.now();
    observer.start(t0);
    timeline.start(t0);
    opts.live?.started({ timeline, plan, t0, note: event });
    const gate = setupGate(
      scenario,
      plan,
      samples,
      components,
      () => calibrations,
      (failure) => {
        progress(`${failure} — stopping before the first fault`);
        void timeline?.finish();
        setupStop.abort(new Error(failure));
      },
    );
    const summary = await load.run({
      signal: AbortSignal.any([signal, setupStop.signal, harnessBroke.signal, abortStop.signal]),
      ...(opts.live ? { control: opts.live.control } : {}),
      onGenerator: (e) => {
        event({ type: "generator", ...e });
        progress(`  ${(e.at_ms / 1000).toFixed(1).padStart(5)} s  load generator ${e.index + 1} of ${e.count} ${e.health}: ${e.reason}`);
      },
      onCohort: (c) => record.sample({ kind: "cohort", ...c }),
      onSample: (s) => {
        samples.push(s);
        record.sample({ kind: "load", ...s });
        opts.live?.onLoad?.(s);
        const stop = abortStop.signal.aborted ? undefined : stopCondition?.see(s);
        if (stop) {
          progress(stop);
          stoppedEarly = { at_s: s.t + 1, reason: stop };
          event({ type: "abort", at_s: s.t + 1, reason: stop });
          abortStop.abort(new Error(stop));
        }
        if (s.t % 5 === 4)
          progress(
            `  ${String(s.t + 1).padStart(5)} s  sent ${s.sent}/s  dropped ${s.dropped}  ok ${s.s2xx + s.s3xx}  5xx ${s.s5xx}  err ${s.errors}  timeout ${s.timeouts}  p99 ${s.p99 === null ? "-" : Math.round(s.p99)} ms`,
          );
      },
    });
    latency = summary.latency;
    generators = summary.generators;
    if (opts.live) await opts.live.ended(AbortSignal.any([signal, harnessBroke.signal]));
    timings.load = Date.now() - t;
    clearTimeout(gate);
    if (signal.aborted) status = "interrupted";
    else if (harnessBroke.signal.aborted) throw harnessBroke.signal.reason;
    else {
      // A generator behind or lost: the load was not the declared one, so whatever was measured
      // is not the scenario's verdict (a harness error, exit 3).
      const problem = generatorProblem(generators);
      if (problem) {
        status = "error";
        error = problem;
      }
    }
  } catch (e) {
    if (signal.aborted) status = "interrupted";
    else {
      status = "error";
      error = harnessBroke.signal.aborted ? (harnessBroke.signal.reason as Error).message : (e as Error).message;
    }
  } finally {
    load?.close();
    const t = Date.now();
    if (observer) await observer.stop().catch(() => {});
    else await Promise.all(samplers.map((x) => x.close?.().catch(() => {}))); // readers opened during up
    await timeline?.finish().catch(() => {});
    stopWatch?.();
    teardown = await runtime.down().catch((e: Error) => {
      error = `${error ? `${error}; ` : ""}teardown failed: ${e.message}`;
      return undefined;
    });
    timings.teardown = Date.now() - t;
  }
  if (opts.live && samples.length > 0) {
    try {
      const played = opts.live.asPlayed();
      scenario = played.scenario;
      record.write(FILES.scenario, redactSource(played.source));
    } catch (e) {
      error = `${error ? `${error}; ` : ""}the scenario as played could not be written: ${(e as Error).message}`;
    }
  }
  let analysis: Analysis | undefined;
  if (samples.length > 0) {
    try {
      analysis = judge({
        scenario,
        plan,
        load: samples,
        components,
        faults,
        calibrations,
        status,
        ...(error ? { error } : {}),
        ...(latency ? { latency } : {}),
      });
      record.write(FILES.analysis, { schema_version: RECORD_SCHEMA_VERSION, ...analysis });
      record.write(FILES.junit, junitXml(scenario, analysis, samples.length));
    } catch (e) {
      error = `${error ? `${error}; ` : ""}analysis failed: ${(e as Error).message}`;
    }
  }
  const result: RunResult = {
    scenario: scenario.name,
    run_id: runId,
    dir: record.dir,
    status,
    ...(error ? { error } : {}),
    started: started.toISOString(),
    ended: new Date().toISOString(),
    timings_ms: timings,
    totals: stats("whole run", samples, 0),
    // A spike or pause in the load cuts the windows too: "baseline 0-35" would hide it.
    windows: windows(samples, [...faults, ...loadEvents(scenario)]),
    faults,
    ...(targetInfo ? { target: targetInfo } : {}),
    ...(images ? { images } : {}),
    calibrations,
    ...(latency ? { latency } : {}),
    ...(analysis ? { analysis } : {}),
    ...(teardown ? { teardown } : {}),
    leftovers_removed: reaped.length,
    ...(stoppedEarly ? { stopped_early: stoppedEarly } : {}),
    ...(generators ? { load_generators: generators } : {}),
  };
  record.write(FILES.result, stored(result));
  if (analysis) {
    // The report reads the finished record (result.json included); vega loads only here.
    try {
      await (await import("../report/report.js")).writeReport(record.dir);
    } catch (e) {
      result.error = `${result.error ? `${result.error}; ` : ""}report failed: ${(e as Error).message}`;
      record.write(FILES.result, stored(result));
    }
  }
  return result;
}

/** One line naming every load generator that fell behind or was lost, or undefined. */
export function generatorProblem(gens: readonly GeneratorFigure[] | undefined): string | undefined {
  const bad = (gens ?? []).filter((g) => g.health !== "ok");
  if (!bad.length) return undefined;
  return bad
    .map(
      (g) =>
        `load generator ${g.index + 1} of ${g.count} ${g.health === "lost" ? "lost" : "fell behind"} at ${((g.at_ms ?? 0) / 1000).toFixed(1)} s: ${g.reason ?? "no reason given"}`,
    )
    .join("; ");
}

/** result.json: the run as recorded, versioned. The analysis lives in analysis.json alone (one
 * source of truth, which `cascade analyze` rewrites); result.json names the file. */
function stored(result: RunResult): StoredResult {
  const { analysis, ...rest } = result;
  return { schema_version: RECORD_SCHEMA_VERSION, ...rest, ...(analysis ? { analysis_file: FILES.analysis } : {}) };
}

/** Checks the scenario's baseline requirements just before the first fault, on the seconds recorded
 * so far (the baseline window ends a second before the fault, so it is complete by then), and calls
 * `stop` with the plain line when they do not hold. */
function setupGate(
  scenario: Scenario,
  plan: TopologyPlan,
  load: LoadSample[],
  components: ComponentsSample[],
  calibrations: () => DbCalibration[],
  stop: (failure: string) => void,
): NodeJS.Timeout | undefined {
  if (!Object.keys(scenario.baseline?.require ?? {}).length) return undefined;
  const first = firstFaultMs(scenario);
  if (first === undefined) return undefined;
  return setTimeout(
    () => {
      const setup = checkSetup(
        scenario,
        buildSeries(load, components, hostsOf(plan), mappedOf(plan)),
        Math.floor(first / 1000),
        calibrations(),
      );
      if (setup.failure) stop(setup.failure);
    },
    Math.max(0, first - 300),
  );
}
