// The report's words: the verdict, the causal path and the mechanisms as plain sentences, and the
// rows of the SLO and evidence tables. Plain text here; html.ts and markdown.ts escape it for
// their format (scenario, fault and container text can hold anything).
import { describeCheck, describeUtilisation } from "../analyze/baseline.js";
import type { Analysis, Objective } from "../analyze/analyze.js";
import type { Mechanism } from "../analyze/mechanisms.js";

export const MECHANISM_TITLES: Record<string, string> = {
  retries: "retry amplification",
  queuing: "queuing",
  "load-shift": "load shift onto a dependency",
  "connection-churn": "connection churn",
  restarts: "crashes and restart loops",
};

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)} %`);

export function verdictWord(a: Analysis): string {
  return a.verdict.toUpperCase();
}

/** The baseline as measured and the pressure the scenario required, as sentences. */
export function setupSentences(a: Analysis): string[] {
  if (!a.setup) return [];
  const w = a.setup.window;
  const util = describeUtilisation(a.setup.utilisation);
  return [
    `Baseline (${w.from}-${w.to} s, before the first fault): ${util || "no utilisation was measured"}.`,
    ...a.setup.checks.map((c) => `Setup ${c.pass ? "held" : "did NOT hold"}: ${describeCheck(c)} (from ${c.source}).`),
  ];
}

/** The causal path as sentences, first the fault, then each component in the order it degraded. */
export function pathSentences(a: Analysis): string[] {
  const out = a.path.map((p, i) => {
    const fault = i === 0 ? /^fault (.*) applied$/.exec(p.why) : null;
    if (fault) return `At ${p.at_s} s the fault ${fault[1]} was applied to ${p.component}.`;
    const load = i === 0 ? /^load change (\S+) to (.*) began$/.exec(p.why) : null;
    if (load) return `At ${p.at_s} s the scenario's load changed (${load[1]}, ${load[2]}): a trigger in the load, not a fault.`;
    return `At ${p.at_s} s, ${p.component === "users" ? "users were hurt" : `${p.component} degraded`}: ${p.why}.`;
  });
  const first = a.path[0];
  const users = a.path.find((p) => p.component === "users");
  if (first && users)
    out.push(
      `Users were first outside the SLO ${Math.max(0, Math.round((users.at_s - first.at_s) * 10) / 10)} s after the ${first.component === "load" ? "load changed" : "fault"}.`,
    );
  return out;
}

export function mechanismRole(a: Analysis, m: Mechanism): "primary" | "contributing" | "not found" {
  if (a.primary && a.primary.name === m.name) return "primary";
  if (a.contributing.some((c) => c.name === m.name)) return "contributing";
  return "not found";
}

/** One sentence per mechanism that carried the cascade (primary first), then backpressure. */
export function mechanismSentences(a: Analysis): string[] {
  const out: string[] = [];
  if (a.primary)
    out.push(
      `Primary mechanism: ${MECHANISM_TITLES[a.primary.name] ?? a.primary.name} (score ${a.primary.score.toFixed(2)}) — ${a.primary.finding}.`,
    );
  // Harm that ended with the fault has no primary mechanism, however strong the evidence of what
  // went on while it lasted ("no mechanism reached the threshold" beside a 0.66 would contradict it).
  else if (a.verdict === "degraded during the fault")
    out.push("No mechanism carried the harm past the fault; what its evidence shows while the fault was in force:");
  else out.push("No mechanism's evidence reached the 0.5 threshold of a finding.");
  const role = a.verdict === "degraded during the fault" ? "During the fault" : "Contributing";
  for (const m of a.contributing) out.push(`${role}: ${MECHANISM_TITLES[m.name] ?? m.name} (score ${m.score.toFixed(2)}) — ${m.finding}.`);
  const bp = a.backpressure;
  if (bp.held !== null)
    out.push(
      `Backpressure ${bp.held ? "held" : "failed"}: ${pct(bp.shed_share)} of requests were shed, ${pct(bp.admitted_success)} of admitted requests succeeded.`,
    );
  return out;
}

export function recoverySentence(a: Analysis): string {
  const r = a.recovery;
  if (r.recovered === true)
    return `Recovery: users were within the SLO ${r.after_s} s after the trigger ended${r.metastable ? ` — past the ${r.limit_s} s limit, so the run counts as metastable` : ""}.`;
  if (r.recovered === false)
    return r.metastable
      ? `Recovery: METASTABLE — users were still outside the SLO ${r.limit_s} s after the trigger ended${r.sustained_by ? `, sustained by ${r.sustained_by}` : ""}.`
      : "Recovery: not recovered by the end of the run (the run ended too soon after the trigger to call it metastable).";
  if (a.windows.trigger_end_s === null && !a.path.length) return "Recovery: not assessed — no fault was applied.";
  return "Recovery: not assessed — a fault stayed active to the end of the run.";
}

export interface ObjectiveRow {
  kind: "SLO" | "expect";
  name: string;
  target: string;
  measured: string;
  pass: boolean;
  /** "pass", "FAIL", or "missed, waived" for an SLO miss the gate does not count (see gate.ts) */
  result: "pass" | "FAIL" | "missed, waived";
}

/** The gate's word for one objective, the same in the summary, summary.md, report.html and JUnit. */
export function objectiveResult(o: Objective, waived: boolean): ObjectiveRow["result"] {
  return o.pass ? "pass" : waived ? "missed, waived" : "FAIL";
}

export function objectiveRows(a: Analysis): ObjectiveRow[] {
  const waived = a.gate?.slo_waived ?? false;
  const row = (kind: ObjectiveRow["kind"]) => (o: Objective) => ({
    kind,
    name: o.name,
    target: o.target,
    measured: o.measured,
    pass: o.pass,
    result: objectiveResult(o, kind === "SLO" && waived),
  });
  return [...a.slo.objectives.map(row("SLO")), ...a.expectations.checks.map(row("expect"))];
}

/** en-US number formats by fraction digits, made once: toLocaleString with options builds a new
 * one per call (90 ms of a 30-minute run's report went there). */
const NUMBER_FORMATS = [0, 1, 2].map((digits) => new Intl.NumberFormat("en-US", { maximumFractionDigits: digits }));

export function formatNumber(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return (NUMBER_FORMATS[digits] as Intl.NumberFormat).format(Number(v.toFixed(digits)));
}

export const numberName = (k: string) => k.replace(/_/g, " ");

/** Mechanisms by score, each with its numbers as [name, value] pairs (the window last). */
export function evidence(a: Analysis): Array<{ m: Mechanism; role: string; numbers: Array<[string, string]> }> {
  return [...a.mechanisms]
    .sort((x, y) => y.score - x.score)
    .map((m) => ({
      m,
      role: mechanismRole(a, m),
      numbers: Object.entries(m.numbers)
        .sort(([x], [y]) => (x === "window" ? 1 : y === "window" ? -1 : 0))
        .map(([k, v]) => [numberName(k), formatNumber(v)]),
    }));
}
