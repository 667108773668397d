// cascade analyze <run dir>: the analysis again, on a stored run, without Docker.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Analysis, judge } from "../analyze/analyze.js";
import { decideGate, type Gate } from "../analyze/gate.js";
import { readRun } from "../analyze/stored.js";
import { FILES, RECORD_SCHEMA_VERSION, writeAtomic } from "../observe/record.js";
import { junitXml } from "../report/junit.js";
import { formatAnalysis } from "../report/summary.js";
import { type OutputFormat, githubAnnotation } from "./format.js";
import { EXIT } from "./exit.js";
import { readFailure } from "./paths.js";

export async function analyzeCommand(dir: string, o: { out?: string; format?: OutputFormat; blackBox?: boolean } = {}): Promise<number> {
  let run: ReturnType<typeof readRun>;
  try {
    run = readRun(dir);
  } catch (e) {
    return readFailure(e);
  }
  const a = judge(run, { blackBox: o.blackBox === true });
  const gate = a.gate ?? decideGate(a, run.scenario, run);
  // The record's analysis.json is the one source of truth, rewritten here; --out leaves the run
  // folder untouched (read-only archives, artifacts from another job).
  const out = resolve(o.out ?? dir);
  try {
    mkdirSync(out, { recursive: true });
    writeAtomic(join(out, FILES.analysis), `${JSON.stringify({ schema_version: RECORD_SCHEMA_VERSION, ...a }, null, 2)}\n`);
    writeAtomic(join(out, FILES.junit), junitXml(run.scenario, a, run.load.length));
  } catch (e) {
    process.stderr.write(`cannot write the analysis to ${out}: ${(e as Error).message} (use --out <dir>)\n`);
    return gate.exit === EXIT.ok ? EXIT.infrastructure : gate.exit;
  }
  if (o.format === "json") process.stdout.write(`${JSON.stringify({ schema_version: RECORD_SCHEMA_VERSION, ...a }, null, 2)}\n`);
  else if (o.format === "github") process.stdout.write(`${githubLines(run.scenario.name, a, gate).join("\n")}\n`);
  else process.stdout.write(`${run.scenario.name} (${run.load.length} s recorded)\n${formatAnalysis(a).join("\n")}\n${gate.line}\n`);
  return gate.exit;
}

/** GitHub Actions annotations: the gate (error unless it passed), then each failed objective. */
export function githubLines(scenario: string, a: Analysis, gate: Gate): string[] {
  const title = `cascade ${scenario}`;
  const lines = [githubAnnotation(gate.pass ? "notice" : "error", `${title}: gate ${gate.label}`, `${gate.line}\n${a.summary}`)];
  for (const o of a.expectations.checks.filter((c) => !c.pass))
    lines.push(githubAnnotation("error", `${title}: expect ${o.name}`, `measured ${o.measured}, expected ${o.target}`));
  for (const o of a.slo.objectives.filter((c) => !c.pass))
    lines.push(
      githubAnnotation(
        gate.slo_waived ? "notice" : "error",
        `${title}: SLO ${o.name}`,
        `measured ${o.measured}, target ${o.target}${gate.slo_waived ? " (waived: the scenario expects the cascade)" : ""}`,
      ),
    );
  return lines;
}
