// The programmatic API: what the command line does, as typed functions. The package entry
// (index.js) loads this file through tsx, as bin/cascade.js loads the CLI.
import { type Analysis, judge } from "./analyze/analyze.js";
import { decideGate, type Gate, gateOfRun } from "./analyze/gate.js";
import { readRun } from "./analyze/stored.js";
import { EXIT } from "./exit.js";
import { resolveSource } from "./images/source.js";
import { writeReport as renderRunReport, type ReportOutput } from "./report/report.js";
import { type RunResult, runScenario as runOne } from "./run/run.js";
import { loadScenario, ScenarioInvalid, type ScenarioIssue } from "./scenario/load.js";
import type { Scenario } from "./scenario/schema.js";

export type { Analysis, Gate, ReportOutput, RunResult, Scenario, ScenarioIssue };
export { decideGate, EXIT, ScenarioInvalid };

export type Validation = { ok: true; scenario: Scenario; source: string } | { ok: false; problems: ScenarioIssue[] };

/** Checks a scenario file as `cascade validate` does; never throws for a bad file. */
export async function validate(file: string): Promise<Validation> {
  try {
    const { scenario, source } = await loadScenario(file);
    return { ok: true, scenario, source };
  } catch (e) {
    if (e instanceof ScenarioInvalid) return { ok: false, problems: e.issues };
    throw e;
  }
}

export interface RunScenarioOptions {
  /** "official" (registry) or "offline" (built from Debian); default as the CLI resolves it */
  images?: "official" | "offline";
  /** where run folders go (default ./reports) */
  outDir?: string;
  /** progress lines; default: none */
  progress?: (line: string) => void;
  /** aborting tears the run down and ends it "interrupted" */
  signal?: AbortSignal;
}

/** Runs a scenario file end to end (as `cascade run`): the result, with its analysis and gate.
 * Throws ScenarioInvalid for a bad file, before anything starts. */
export async function runScenario(file: string, o: RunScenarioOptions = {}): Promise<RunResult & { gate: Gate }> {
  const { scenario, source } = await loadScenario(file);
  const result = await runOne(scenario, source, {
    source: resolveSource(o.images).source,
    progress: o.progress ?? (() => {}),
    signal: o.signal ?? new AbortController().signal,
    ...(o.outDir ? { outDir: o.outDir } : {}),
  });
  const gate = gateOfRun(result, scenario);
  return { ...result, gate };
}

/** The analysis of a stored run folder, with its gate (as `cascade analyze`, without writing). */
export function analyze(runDir: string): Analysis & { gate: Gate } {
  const run = readRun(runDir);
  const a = judge(run);
  return { ...a, gate: a.gate ?? decideGate(a, run.scenario, run) };
}

/** Writes report.html, summary.md and charts/ for a stored run folder, into `outDir` (default the folder). */
export function writeReport(runDir: string, outDir = runDir): Promise<ReportOutput> {
  return renderRunReport(runDir, outDir);
}
