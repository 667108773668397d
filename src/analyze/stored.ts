// A stored run folder read back for analysis without Docker: the scenario as run, its plan, the
// samples, the fault events and the driver's whole-run latency.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FaultEvent } from "../faults/scheduler.js";
import type { LoadSample } from "../load/driver.js";
import type { ComponentsSample } from "../observe/observer.js";
import { FILES, readNdjsonFile, readSamples } from "../observe/record.js";
import { parseScenario } from "../scenario/load.js";
import type { TopologyPlan } from "../topology/plan.js";
import type { RecordedRun } from "./analyze.js";

export function readRun(dir: string): RecordedRun {
  for (const f of [FILES.scenario, FILES.plan, FILES.samples, FILES.events])
    if (!existsSync(join(dir, f))) throw new Error(`${dir} is not a run folder: ${f} is missing`);
  const scenario = parseScenario(readFileSync(join(dir, FILES.scenario), "utf8"), join(dir, FILES.scenario));
  const plan = JSON.parse(readFileSync(join(dir, FILES.plan), "utf8")) as TopologyPlan;
  const { load, components } = readSamples<LoadSample, ComponentsSample>(dir);
  const faults = readNdjsonFile<FaultEvent & { type: string }>(join(dir, FILES.events)).filter((e) => e.type === "fault");
  const resultFile = join(dir, FILES.result);
  const latency = existsSync(resultFile)
    ? (JSON.parse(readFileSync(resultFile, "utf8")) as { latency?: RecordedRun["latency"] }).latency
    : undefined;
  return { scenario, plan, load, components, faults, ...(latency ? { latency } : {}) };
}
