// The plain-text summary printed at the end of a run.
import type { RunResult } from "../run/run.js";
import type { WindowStats } from "../analyze/windows.js";
import type { Analysis } from "../analyze/analyze.js";
import { describeCheck, describeUtilisation } from "../analyze/baseline.js";
import { describeCalibration } from "../calibrate/describe.js";
import { objectiveResult } from "./narrative.js";

const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(1)}%`);
const ms = (v: number | null) => (v === null ? "-" : `${Math.round(v)}`);

export function formatSummary(r: RunResult): string {
  const rows: string[][] = [["window", "seconds", "sent/s", "dropped", "success", "5xx", "conn err", "timeouts", "p50 ms", "worst p99 ms"]];
  const row = (w: WindowStats) => {
    const secs = w.to_s - w.from_s;
    rows.push([
      w.label,
      `${w.from_s}-${w.to_s}`,
      (w.sent / Math.max(1, secs)).toFixed(0),
      String(w.dropped),
      pct(w.success),
      String(w.s5xx),
      String(w.errors),
      String(w.timeouts),
      ms(w.p50_ms),
      ms(w.p99_worst_ms),
    ]);
  };
  if (r.totals.to_s === 0)
    return [`${r.scenario}: ${r.status}${r.error ? ` — ${r.error}` : ""}`, "no load was sent", `record: ${r.dir}`].join("\n");
  for (const w of r.windows) row(w);
  row(r.totals);
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((rr) => (rr[i] as string).length)));
  const table = rows.map((rr) => rr.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  "));
  const t = r.timings_ms;
  const lag = r.faults.filter((f) => f.action !== "error").map((f) => f.lag_ms);
  return [
    `${r.scenario}: ${r.status}${r.error ? ` — ${r.error}` : ""}`,
    ...(r.stopped_early
      ? [`stopped early at ${r.stopped_early.at_s} s by the scenario's abort condition: ${r.stopped_early.reason.replace(/^abort: /, "")}`]
      : []),
    "",
    ...table,
    "",
    ...(r.calibrations?.length ? [...r.calibrations.map((c) => `calibration: ${describeCalibration(c)}`), ""] : []),
    ...(r.analysis ? [...formatAnalysis(r.analysis), ""] : []),
    `faults: ${r.faults.length} events, scheduling lag ${lagFigures(lag)}` +
      (r.faults.some((f) => f.action === "error")
        ? ` — ${r.faults.filter((f) => f.action === "error").length} failed (see events.ndjson)`
        : ""),
    `timings: images ${(t.images / 1000).toFixed(1)} s, topology up ${(t.topology_up / 1000).toFixed(1)} s, load ${(t.load / 1000).toFixed(1)} s, teardown ${(t.teardown / 1000).toFixed(1)} s`,
    r.teardown
      ? `teardown: removed ${r.teardown.containers} containers and ${r.teardown.networks} network(s)`
      : "teardown: FAILED — the run's reaper removes the rest (now, or once the engine answers again); `cascade down` shows and removes leftovers",
    `record: ${r.dir}`,
  ].join("\n");
}

function lagFigures(lag: number[]): string {
  if (!lag.length) return "-";
  const s = [...lag].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${s.at(-1)} ms`;
}

/** The verdict block: what happened, along which path, through which mechanisms, and the gates. */
export function formatAnalysis(a: Analysis): string[] {
  const out = [`verdict: ${a.verdict.toUpperCase()} — ${a.summary}`];
  if (a.black_box) out.push("judged from the dependencies' own counters and the users alone (--black-box: the app's /metrics left out)");
  if (a.setup) {
    const w = a.setup.window;
    out.push(`baseline ${w.from}-${w.to} s: ${describeUtilisation(a.setup.utilisation) || "no utilisation measured"}`);
    for (const [db, ms] of Object.entries(a.setup.cpu_per_xact_ms ?? {}))
      out.push(`  ${db}: ${ms} ms of CPU per transaction at baseline (cgroup CPU ÷ its own commit + rollback counters)`);
    for (const c of a.setup.checks) out.push(`  setup ${c.pass ? "held" : "DID NOT HOLD"}  ${describeCheck(c)} (${c.source})`);
  }
  if (a.path.length > 1) out.push(`path: ${a.path.map((p) => `${p.component} @${p.at_s}s (${p.why})`).join(" → ")}`);
  const shown = [a.primary, ...a.contributing].filter((m) => m !== null);
  for (const m of shown)
    out.push(`  ${m === a.primary ? "primary" : "contributing"} ${m.name} (score ${m.score.toFixed(2)}): ${m.finding}`);
  if (a.backpressure.held !== null)
    out.push(
      `  backpressure ${a.backpressure.held ? "held" : "failed"}: shed ${((a.backpressure.shed_share ?? 0) * 100).toFixed(1)} %, admitted success ${((a.backpressure.admitted_success ?? 0) * 100).toFixed(1)} %`,
    );
  const r = a.recovery;
  out.push(
    `recovery: ${
      r.recovered === true
        ? `within the SLO ${r.after_s} s after the trigger ended${r.metastable ? ` (past the ${r.limit_s} s limit)` : ""}`
        : r.recovered === false
          ? r.metastable
            ? `METASTABLE — still degraded ${r.limit_s} s after the trigger ended${r.sustained_by ? `, sustained by ${r.sustained_by}` : ""}`
            : "not recovered by the end of the run (too short to call it metastable)"
          : a.windows.trigger_end_s === null && !a.path.length
            ? "not assessed (no fault was applied)"
            : "not assessed (a fault stayed active to the end)"
    }`,
  );
  const waived = a.gate?.slo_waived ?? false;
  for (const o of a.slo.objectives) out.push(`  SLO ${objectiveResult(o, waived)}  ${o.name}: ${o.measured} (target ${o.target})`);
  for (const c of a.expectations.checks) out.push(`  expect ${c.pass ? "pass" : "FAIL"}  ${c.name}: ${c.measured} (expected ${c.target})`);
  const gaps = Object.entries(a.gaps);
  if (gaps.length) out.push(`  missing readings: ${gaps.map(([s, n]) => `${s} ${n} s`).join(", ")}`);
  return out;
}
