// The CI gate: one decision, made here, that the exit code, the last line of `run` and `analyze`,
// summary.md, report.html and junit.xml all state in the same words.
//
// Order: a run that did not finish (interrupted, harness error) or could not judge (setup did not
// hold, inconclusive) never passes and says so first; then the scenario's `expect:` block; then
// the SLO. A scenario that expects the cascade (`expect: { cascade: true }`, a naive variant
// rehearsing an outage) is supposed to miss its SLO: its SLO objectives are still measured and
// shown, marked waived, and do not fail the gate.
import { EXIT } from "../exit.js";
import type { Scenario } from "../scenario/schema.js";
import type { Analysis, Objective } from "./analyze.js";

export type GateOutcome =
  | "pass"
  | "slo failed"
  | "expectation failed"
  | "setup did not hold"
  | "inconclusive"
  | "interrupted"
  | "harness error"
  | "invalid run";

export interface Gate {
  /** PASS, FAIL (the system missed a gate), or NO VERDICT (the run could not judge) */
  label: "PASS" | "FAIL" | "NO VERDICT";
  pass: boolean;
  outcome: GateOutcome;
  exit: number;
  /** why, in one line */
  reason: string;
  /** true when the scenario expects the cascade, so SLO misses are shown but do not fail the gate */
  slo_waived: boolean;
  /** "gate: FAIL — availability 63.4 % (target ≥ 95.0 %) (exit 4)" */
  line: string;
}

export interface RunStatus {
  status?: "completed" | "interrupted" | "error";
  error?: string;
  /** faults that failed to apply ("name: apply failed: …"): the run is invalid */
  faultErrors?: string[];
}

/** True when the scenario's SLO does not count toward the gate (it expects the cascade). */
export const sloWaived = (scenario: Scenario): boolean => scenario.expect?.cascade === true;

const failed = (os: Objective[]) => os.filter((o) => !o.pass).map((o) => `${o.name} ${o.measured} (target ${o.target})`);

export function decideGate(a: Analysis | undefined, scenario: Scenario, run: RunStatus = {}): Gate {
  const waived = sloWaived(scenario);
  const make = (outcome: GateOutcome, exit: number, reason: string): Gate => {
    const label = outcome === "pass" ? "PASS" : outcome === "slo failed" || outcome === "expectation failed" ? "FAIL" : "NO VERDICT";
    return {
      label,
      pass: outcome === "pass",
      outcome,
      exit,
      reason,
      slo_waived: waived,
      line: `gate: ${label} — ${reason} (exit ${exit})`,
    };
  };
  if (run.status === "interrupted") return make("interrupted", EXIT.interrupted, "the run was interrupted before its planned end");
  if (run.status === "error") return make("harness error", EXIT.infrastructure, `the run broke: ${run.error ?? "unknown error"}`);
  if (!a) return make("harness error", EXIT.infrastructure, "no analysis: the run recorded nothing to judge");
  // A fault that did not apply means the system was not put through the scenario: whatever was
  // measured is not its verdict.
  if (run.faultErrors?.length) return make("invalid run", EXIT.invalidRun, `invalid run: ${run.faultErrors.join("; ")}`);
  if (a.verdict === "setup did not hold")
    return make(
      "setup did not hold",
      EXIT.setupDidNotHold,
      a.setup?.failure ?? "the baseline was not under the pressure the scenario needs",
    );
  if (a.verdict === "inconclusive") return make("inconclusive", EXIT.inconclusive, `inconclusive: ${a.reasons.join("; ")}`);
  if (!a.expectations.pass) return make("expectation failed", EXIT.expectationFailed, `expect ${failed(a.expectations.checks).join("; ")}`);
  if (!a.slo.pass && !waived) return make("slo failed", EXIT.sloFailed, `SLO ${failed(a.slo.objectives).join("; ")}`);
  const checks = a.slo.objectives.length + a.expectations.checks.length;
  const missed = failed(a.slo.objectives);
  return make(
    "pass",
    EXIT.ok,
    missed.length
      ? `as expected: ${a.verdict}; SLO missed and waived because the scenario expects the cascade (${missed.join("; ")})`
      : checks
        ? `${a.verdict}; every objective and expectation held (${checks})`
        : `${a.verdict}; nothing declared to check (no slo: or expect:)`,
  );
}

/** The gate of a finished run: its analysis's, unless a completed run left containers behind
 * (teardown did not finish), which is a harness error whatever it measured. */
export function gateOfRun(r: RunStatus & { analysis?: Analysis | undefined; teardown?: unknown }, scenario: Scenario): Gate {
  if (r.status === "completed" && !r.teardown)
    return decideGate(undefined, scenario, { status: "error", error: r.error ?? "teardown did not finish" });
  return r.analysis?.gate ?? decideGate(r.analysis, scenario, r);
}
