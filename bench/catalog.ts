// `npm run bench:catalog` — every catalog file, run N times on a quiet machine and N times beside a
// CPU hog (one busy loop per core at normal priority), in a table: verdict, primary mechanism,
// availability, the baseline as measured, the database calibration. The question it answers: does
// any verdict flip with the machine's load? (A run whose setup did not hold gives no verdict.)
//   npm run bench:catalog -- [--runs 3] [--conditions quiet,hog] [--only memcached-crash,retry-storm]
// Writes the table to stdout and to reports/bench-catalog-<time>.md; exits 1 when a verdict flipped.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { describeUtilisation } from "../src/analyze/baseline.js";
import { resolveSource } from "../src/images/source.js";
import { reportsDir, SCENARIOS_DIR } from "../src/paths.js";
import { type RunResult, runScenarioFile } from "../src/run/run.js";
import { type CatalogRow, flips, markdownTable } from "./catalog-table.js";
import { startHog } from "./hog.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    conditions: { type: "string", default: "quiet,hog" },
    only: { type: "string" },
  },
});
const runs = Number(values.runs);
const conditions = (values.conditions ?? "").split(",").filter((c): c is "quiet" | "hog" => c === "quiet" || c === "hog");
const only = values.only?.split(",");
const dir = join(SCENARIOS_DIR, "catalog");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml") && (!only || only.some((o) => f.startsWith(`${o}.`))))
  .sort();
const out = mkdtempSync(join(tmpdir(), "cascade-bench-catalog-"));
const ac = new AbortController();
process.once("SIGINT", () => ac.abort(new Error("SIGINT")));

function row(condition: CatalogRow["condition"], file: string, run: number, r: RunResult, load: number): CatalogRow {
  const a = r.analysis;
  const setup = a?.setup;
  const required =
    setup?.checks.map((c) => `${c.service} ${c.metric} ${c.measured === null ? "-" : `${Math.round(c.measured * 100)} %`}`) ?? [];
  const perXact = Object.entries(setup?.cpu_per_xact_ms ?? {}).map(([db, ms]) => `${db} ${ms} ms/xact`);
  const cal = r.calibrations.map(
    (c) =>
      `${c.service} ${c.rows_per_cpu_ms.toLocaleString("en-US")} rows/ms${c.check ? `, read ${c.check.declared_ms} → ${c.check.measured_ms} ms` : ""}`,
  );
  return {
    condition,
    file: file.replace(/\.yaml$/, ""),
    run,
    verdict: a?.verdict ?? `run ${r.status}${r.error ? `: ${r.error}` : ""}`,
    metastable: a?.recovery.metastable ?? null,
    primary: a?.primary?.name ?? null,
    availability: r.totals.success,
    baseline: [...(required.length ? required : [describeUtilisation(setup?.utilisation ?? {})]), ...perXact].join("; ") || "-",
    calibration: cal.join("; "),
    expectations: a?.expectations.pass && r.status === "completed" ? "pass" : "FAIL",
    load_average: load,
    seconds: Math.round((Date.parse(r.ended) - Date.parse(r.started)) / 1000),
  };
}

const rows: CatalogRow[] = [];
const total = conditions.length * runs * files.length;
for (const condition of conditions) {
  // Bounded: the hog stops itself after the longest this condition can take (60 s a run).
  const hog = condition === "hog" ? startHog(runs * files.length * 60 + 60) : undefined;
  if (hog) process.stderr.write(`hog: busy loops at pids ${hog.pids.join(", ")}\n`);
  try {
    for (let run = 1; run <= runs; run++)
      for (const file of files) {
        ac.signal.throwIfAborted();
        const load = loadavg()[0] ?? 0;
        const r = await runScenarioFile(join(dir, file), {
          source: resolveSource().source,
          progress: () => {},
          signal: ac.signal,
          outDir: out,
        });
        const x = row(condition, file, run, r, load);
        rows.push(x);
        process.stderr.write(
          `[${rows.length}/${total}] ${condition} run ${run} ${x.file}: ${x.verdict}${x.metastable ? " (metastable)" : ""}, ${x.primary ?? "-"}, ${
            x.availability === null ? "-" : `${(x.availability * 100).toFixed(1)} %`
          } served, baseline ${x.baseline}, expect ${x.expectations} (load ${load.toFixed(1)}, ${x.seconds} s)\n`,
        );
      }
  } finally {
    hog?.stop();
  }
}

const table = markdownTable(rows);
mkdirSync(reportsDir(), { recursive: true });
const file = join(reportsDir(), `bench-catalog-${new Date().toISOString().replace(/[:.]/g, "-")}.md`);
writeFileSync(file, `${table}\n`);
process.stdout.write(`${table}\n\ntable: ${file}\nrun records: ${out}\n`);
process.exitCode = flips(rows).length ? 1 : 0;
