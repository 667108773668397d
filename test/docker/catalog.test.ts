// The scenario catalog (scenarios/catalog): every incident of the seeds as a naive and a mitigated
// file, run on real containers. The naive one must cascade through its named mechanism; the
// mitigated one must meet its own `expect:` block (no cascade; for the retry storm, whose
// brownout removes half the database, not metastable) and stay within its SLO. The verdicts come
// from the analysis of what was measured — and again with the app's /metrics left out (the
// dependencies' counters alone): whether it cascaded must not depend on the app's help.
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { judge } from "../../src/analyze/analyze.js";
import { readRun } from "../../src/analyze/stored.js";
import { SCENARIOS_DIR } from "../../src/paths.js";
import type { RunResult } from "../../src/run/run.js";
import { mechanismNames, runScenario } from "./helpers.js";

const dir = join(SCENARIOS_DIR, "catalog");
const pairs = [...new Set(readdirSync(dir).map((f) => f.replace(/\.(naive|mitigated)\.yaml$/, "")))].sort();
const out = mkdtempSync(join(tmpdir(), "cascade-catalog-"));
const table: string[] = [];

const run = (file: string) => runScenario(dir, file, out);

const mechanismsOf = (r: RunResult) => mechanismNames(r.analysis).join(", ") || "-";
const seconds = (r: RunResult) => Math.round((Date.parse(r.ended) - Date.parse(r.started)) / 1000);
/** The verdict, and when the setup did not hold, which bar it missed (a CI log shows only this table). */
const verdictOf = (r: RunResult) =>
  `${r.analysis?.verdict}${r.analysis?.recovery.metastable ? " (metastable)" : ""}${r.analysis?.setup?.failure ? `: ${r.analysis.setup.failure}` : ""}`;

describe.each(pairs)("%s", (pair) => {
  it("naive: cascades through its named mechanism", async () => {
    const r = await run(`${pair}.naive.yaml`);
    const a = r.analysis;
    table.push(`| ${pair} | naive | ${verdictOf(r)} | ${mechanismsOf(r)} | ${seconds(r)} s |`);
    expect(a?.expectations.checks.filter((c) => !c.pass)).toEqual([]);
    expect(a?.verdict).toBe("cascade");
    // its SLO misses are waived (it expects the cascade): the gate passes, exit 0
    expect(a?.gate).toMatchObject({ pass: true, exit: 0, slo_waived: true });
    const box = judge(readRun(r.dir), { blackBox: true });
    expect(box.verdict, `${pair} as a black box`).toBe("cascade");
    expect(box.recovery.metastable).toBe(a?.recovery.metastable);
  });

  it("mitigated: what its expect block says (no cascade, or at least not metastable), within its SLO", async () => {
    const r = await run(`${pair}.mitigated.yaml`);
    const a = r.analysis;
    table.push(`| ${pair} | mitigated | ${verdictOf(r)} | ${mechanismsOf(r)} | ${seconds(r)} s |`);
    expect(a?.expectations.checks.length).toBeGreaterThan(0);
    expect(a?.expectations.checks.filter((c) => !c.pass)).toEqual([]);
    expect(a?.slo.objectives.filter((o) => !o.pass)).toEqual([]);
    expect(a?.gate).toMatchObject({ pass: true, exit: 0 });
    const box = judge(readRun(r.dir), { blackBox: true });
    // the same verdict from outside — unless only the app's own shed counter showed it contained
    if (a?.backpressure.held !== true) expect(box.verdict, `${pair} as a black box`).toBe(a?.verdict);
  });
});

afterAll(() => {
  console.log(["| scenario | variant | verdict | mechanisms | run time |", "|---|---|---|---|---|", ...table].join("\n"));
});
