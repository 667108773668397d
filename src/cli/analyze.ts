// cascade analyze <run dir>: the analysis again, on a stored run, without Docker.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { judge } from "../analyze/analyze.js";
import { decideGate } from "../analyze/gate.js";
import { readRun } from "../analyze/stored.js";
import { FILES } from "../observe/record.js";
import { junitXml } from "../report/junit.js";
import { formatAnalysis } from "../report/summary.js";
import { ScenarioInvalid } from "../scenario/load.js";
import { EXIT } from "./exit.js";

export async function analyzeCommand(dir: string): Promise<number> {
  let run: ReturnType<typeof readRun>;
  try {
    run = readRun(dir);
  } catch (e) {
    process.stderr.write(`${e instanceof ScenarioInvalid ? e.message : (e as Error).message}\n`);
    return EXIT.badRecord;
  }
  const a = judge(run);
  writeFileSync(join(dir, FILES.analysis), `${JSON.stringify(a, null, 2)}\n`);
  writeFileSync(join(dir, FILES.junit), junitXml(run.scenario, a, run.load.length));
  const gate = a.gate ?? decideGate(a, run.scenario, run);
  process.stdout.write(`${run.scenario.name} (${run.load.length} s recorded)\n${formatAnalysis(a).join("\n")}\n${gate.line}\n`);
  return gate.exit;
}
