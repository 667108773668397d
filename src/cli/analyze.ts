// cascade analyze <run dir>: the analysis again, on a stored run, without Docker.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { analyze, checkExpectations } from "../analyze/analyze.js";
import { readRun } from "../analyze/stored.js";
import { FILES } from "../observe/record.js";
import { junitXml } from "../report/junit.js";
import { formatAnalysis } from "../report/summary.js";
import { ScenarioInvalid } from "../scenario/load.js";
import { EXIT } from "./exit.js";
import { gateExit } from "./run.js";

export async function analyzeCommand(dir: string): Promise<number> {
  let run: ReturnType<typeof readRun>;
  try {
    run = readRun(dir);
  } catch (e) {
    process.stderr.write(`${e instanceof ScenarioInvalid ? e.message : (e as Error).message}\n`);
    return EXIT.invalidScenario;
  }
  const a = analyze(run);
  a.expectations = checkExpectations(a, run.scenario);
  writeFileSync(join(dir, FILES.analysis), `${JSON.stringify(a, null, 2)}\n`);
  writeFileSync(join(dir, FILES.junit), junitXml(run.scenario.name, a, run.load.length));
  process.stdout.write(`${run.scenario.name} (${run.load.length} s recorded)\n${formatAnalysis(a).join("\n")}\n`);
  return gateExit(a, run.scenario);
}
