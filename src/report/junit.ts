// JUnit XML for CI systems: the gate first (it fails exactly when the exit code is not 0), then one
// test case per setup check, SLO objective and expectation. An SLO miss the gate waives (the
// scenario expects the cascade) is a skipped case, not a failure; a run that could not judge
// (inconclusive, setup did not hold, interrupted, harness error) fails its gate case: never green.
import type { Analysis, Objective } from "../analyze/analyze.js";
import { describeCheck } from "../analyze/baseline.js";
import { decideGate } from "../analyze/gate.js";
import type { Scenario } from "../scenario/schema.js";
import { objectiveResult } from "./narrative.js";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

export function junitXml(scenario: Scenario, a: Analysis, seconds: number): string {
  const gate = a.gate ?? decideGate(a, scenario);
  const waived = gate.slo_waived;
  const cases: Array<{ name: string; failure?: string; skipped?: string }> = [
    { name: `gate (verdict: ${a.verdict})`, ...(gate.pass ? {} : { failure: gate.line }) },
  ];
  for (const c of a.setup?.checks ?? [])
    cases.push({ name: `setup ${c.service} ${c.metric}`, ...(c.pass ? {} : { failure: describeCheck(c) }) });
  const add = (prefix: string, o: Objective, canWaive: boolean) => {
    const why = `measured ${o.measured}, target ${o.target}`;
    const r = objectiveResult(o, canWaive && waived);
    cases.push({
      name: `${prefix} ${o.name}`,
      ...(r === "FAIL" ? { failure: why } : r === "missed, waived" ? { skipped: `${why}; waived: the scenario expects the cascade` } : {}),
    });
  };
  for (const o of a.slo.objectives) add("SLO", o, true);
  for (const c of a.expectations.checks) add("expect", c, false);
  const failures = cases.filter((c) => c.failure).length;
  const skipped = cases.filter((c) => c.skipped).length;
  const body = cases
    .map((c) => {
      const open = `    <testcase classname="cascade.${esc(scenario.name)}" name="${esc(c.name)}"`;
      if (c.failure) return `${open}><failure message="${esc(c.failure)}">${esc(`${a.summary}\n${gate.line}`)}</failure></testcase>`;
      if (c.skipped) return `${open}><skipped message="${esc(c.skipped)}"/></testcase>`;
      return `${open}/>`;
    })
    .join("\n");
  const counts = `tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${seconds}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${counts}>`,
    `  <testsuite name="cascade ${esc(scenario.name)}" ${counts}>`,
    body,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
