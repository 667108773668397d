// JUnit XML for CI systems: one test case per SLO objective and per expectation, plus the verdict.
import type { Analysis, Objective } from "../analyze/analyze.js";
import { describeCheck } from "../analyze/baseline.js";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

export function junitXml(scenario: string, a: Analysis, seconds: number): string {
  const cases: Array<{ name: string; failure?: string }> = [{ name: `verdict: ${a.verdict}` }];
  const add = (prefix: string, o: Objective) =>
    cases.push({ name: `${prefix} ${o.name}`, ...(o.pass ? {} : { failure: `measured ${o.measured}, target ${o.target}` }) });
  for (const c of a.setup?.checks ?? [])
    cases.push({ name: `setup ${c.service} ${c.metric}`, ...(c.pass ? {} : { failure: describeCheck(c) }) });
  for (const o of a.slo.objectives) add("SLO", o);
  for (const c of a.expectations.checks) add("expect", c);
  const failures = cases.filter((c) => c.failure).length;
  const body = cases
    .map((c) =>
      c.failure
        ? `    <testcase classname="cascade.${esc(scenario)}" name="${esc(c.name)}"><failure message="${esc(c.failure)}">${esc(a.summary)}</failure></testcase>`
        : `    <testcase classname="cascade.${esc(scenario)}" name="${esc(c.name)}"/>`,
    )
    .join("\n");
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${cases.length}" failures="${failures}" time="${seconds}">`,
    `  <testsuite name="cascade ${esc(scenario)}" tests="${cases.length}" failures="${failures}" time="${seconds}">`,
    body,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
