// A stored run folder read back for analysis without Docker: the scenario as run, its plan, the
// samples, the fault events and the driver's whole-run latency.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DbCalibration } from "../calibrate/postgres.js";
import type { FaultEvent } from "../faults/scheduler.js";
import type { CohortSample } from "../load/cohorts.js";
import type { LoadSample } from "../load/driver.js";
import type { ComponentsSample } from "../observe/observer.js";
import { FILES, readJsonFile, readNdjsonFile, readSamples } from "../observe/record.js";
import { parseScenario } from "../scenario/load.js";
import type { TopologyPlan } from "../topology/plan.js";
import type { RecordedRun } from "./analyze.js";

/** A run folder's files, each read once: the recorded run, every line of events.ndjson (faults and
 * container events alike) and result.json (empty when the run never wrote one). */
export interface RunFolder {
  run: RecordedRun;
  events: Array<{ type?: string }>;
  result: Record<string, unknown>;
}

export function readRunFolder(dir: string): RunFolder {
  for (const f of [FILES.scenario, FILES.plan, FILES.samples, FILES.events])
    if (!existsSync(join(dir, f))) throw new Error(`${dir} is not a run folder: ${f} is missing`);
  const scenario = parseScenario(readFileSync(join(dir, FILES.scenario), "utf8"), join(dir, FILES.scenario));
  const plan = readJsonFile<TopologyPlan>(join(dir, FILES.plan));
  const { load, components, cohorts } = readSamples<LoadSample, ComponentsSample, CohortSample>(dir);
  const events = readNdjsonFile<{ type?: string }>(join(dir, FILES.events));
  const faults = events.filter((e): e is FaultEvent & { type: string } => e.type === "fault");
  const resultFile = join(dir, FILES.result);
  const result = existsSync(resultFile) ? readJsonFile<Record<string, unknown>>(resultFile) : {};
  const latency = result.latency as RecordedRun["latency"] | undefined;
  const calibrations = events.filter((e) => e.type === "calibration").map((e) => (e as { calibration: DbCalibration }).calibration);
  // No result.json: the harness died mid-run (SIGKILL, a crash); never judged as if it finished.
  const finished = existsSync(resultFile);
  const status = !finished
    ? "error"
    : result.status === "completed" || result.status === "interrupted" || result.status === "error"
      ? result.status
      : undefined;
  const error = !finished
    ? "the harness died before the run ended (no result.json)"
    : typeof result.error === "string"
      ? result.error
      : undefined;
  return {
    run: {
      scenario,
      plan,
      load,
      components,
      faults,
      calibrations,
      ...(cohorts.length ? { cohorts } : {}),
      ...(latency ? { latency } : {}),
      ...(status ? { status } : {}),
      ...(error ? { error } : {}),
    },
    events,
    result,
  };
}

export function readRun(dir: string): RecordedRun {
  return readRunFolder(dir).run;
}
