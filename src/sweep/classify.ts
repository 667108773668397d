// A sweep point's class, from its run's analysis and gate: did the system come back by itself
// within the SLO's recovery time, come back late, stay down with the trigger gone (and what kept it
// down), or could the run not say (the setup did not hold; an error; an interruption). A run that
// could not judge is never counted as recovered.
import type { Analysis } from "../analyze/analyze.js";
import type { Gate } from "../analyze/gate.js";

export const CLASSES = ["recovered", "recovered late", "metastable", "setup did not hold", "no verdict"] as const;
export type PointClass = (typeof CLASSES)[number];

/** The figures the class was decided on, kept in sweep.json beside it. */
export interface Figures {
  verdict: Analysis["verdict"] | null;
  gate: Gate["outcome"] | null;
  /** seconds from the trigger's end until users were back within the SLO; null: never (or not measured) */
  recovered_after_s: number | null;
  /** the SLO's recovery time, s */
  limit_s: number | null;
  /** what sustained it while it stayed down (the analysis's strongest mechanism then) */
  sustained_by: string | null;
  /** the run's primary mechanism */
  primary: string | null;
  /** availability over the run, 0-1, when the SLO measures it */
  availability: number | null;
  /** why a point has no class of its own (setup failure line, error, interruption) */
  note: string | null;
  /** the baseline as measured, "db cpu 0.52" */
  baseline: Record<string, Record<string, number>> | null;
}

export interface RunOutcome {
  status: "completed" | "interrupted" | "error";
  error?: string;
  analysis?: Analysis;
  gate: Gate;
}

export function classify(r: RunOutcome): { class: PointClass; figures: Figures } {
  const a = r.analysis;
  const avail = a?.slo.objectives.find((o) => o.name === "availability");
  const figures: Figures = {
    verdict: a?.verdict ?? null,
    gate: r.gate.outcome,
    recovered_after_s: a?.recovery.after_s ?? null,
    limit_s: a?.recovery.limit_s ?? null,
    sustained_by: a?.recovery.sustained_by ?? null,
    primary: a?.primary?.name ?? null,
    availability: typeof avail?.value === "number" ? avail.value : null,
    note: null,
    baseline: (a?.setup?.utilisation as Figures["baseline"]) ?? null,
  };
  const none = (note: string) => ({ class: "no verdict" as const, figures: { ...figures, note } });
  if (r.status !== "completed" || !a) return none(r.gate.reason);
  if (r.gate.outcome === "invalid run" || r.gate.outcome === "harness error" || r.gate.outcome === "interrupted")
    return none(r.gate.reason);
  if (a.verdict === "setup did not hold")
    return { class: "setup did not hold", figures: { ...figures, note: a.setup?.failure ?? r.gate.reason } };
  if (a.verdict === "inconclusive") return none(`inconclusive: ${a.reasons.join("; ")}`);
  const rec = a.recovery;
  if (rec.recovered === true && rec.after_s !== null)
    return { class: rec.after_s <= rec.limit_s ? "recovered" : "recovered late", figures };
  if (rec.recovered === false && rec.metastable === true) return { class: "metastable", figures };
  if (rec.recovered === false)
    return none(`not recovered, but the run ended less than the SLO's ${rec.limit_s} s after the trigger: too short to call metastable`);
  return none("no trigger end to measure recovery from");
}

/** The class most runs of a point got; ties go to the worse class (a split is said, never hidden). */
export function majority(classes: PointClass[]): { class: PointClass; split: boolean } {
  const counts = new Map<PointClass, number>();
  for (const c of classes) counts.set(c, (counts.get(c) ?? 0) + 1);
  const order = (c: PointClass) => ["metastable", "recovered late", "recovered", "setup did not hold", "no verdict"].indexOf(c);
  const best = [...counts.entries()].sort((x, y) => y[1] - x[1] || order(x[0]) - order(y[0]))[0];
  return { class: best ? best[0] : "no verdict", split: counts.size > 1 };
}
