// Splits the per-second samples at every fault change (apply / revert, at the time it really
// happened) so a summary can compare before, during and after. A first, plain version of the
// analysis stage; mechanism attribution builds on these windows.
import type { LoadSample } from "../load/driver.js";
import type { FaultEvent } from "../faults/scheduler.js";

export interface WindowStats {
  label: string;
  from_s: number;
  to_s: number;
  offered: number;
  sent: number;
  /** arrivals the load driver could not send: every connection busy at its cap */
  dropped: number;
  ok: number;
  s5xx: number;
  errors: number;
  timeouts: number;
  /** ok / (completed + errors + timeouts): requests whose outcome is known. */
  success: number | null;
  /** Median of per-second p50s, and the worst per-second p99 in the window. */
  p50_ms: number | null;
  p99_worst_ms: number | null;
}

export function windows(samples: LoadSample[], faults: FaultEvent[]): WindowStats[] {
  const end = samples.length;
  const cuts: Array<{ at: number; label: string }> = [{ at: 0, label: "baseline" }];
  for (const e of [...faults].sort((a, b) => a.actual_ms - b.actual_ms)) {
    if (e.action === "error") continue;
    const at = Math.min(end, Math.round(e.actual_ms / 1000));
    const label = `after ${e.action === "apply" ? "" : "revert of "}${e.fault}`;
    const last = cuts[cuts.length - 1] as { at: number; label: string };
    if (last.at === at) last.label = at === 0 ? label : `${last.label} + ${e.fault}`;
    else cuts.push({ at, label });
  }
  return cuts.map((c, i) => stats(c.label, samples.slice(c.at, cuts[i + 1]?.at ?? end), c.at)).filter((w) => w.to_s > w.from_s);
}

export function stats(label: string, ss: LoadSample[], from: number): WindowStats {
  const sum = (f: (s: LoadSample) => number) => ss.reduce((a, s) => a + f(s), 0);
  const ok = sum((s) => s.s2xx + s.s3xx);
  const known = sum((s) => s.completed + s.errors + s.timeouts);
  const p50s = ss
    .map((s) => s.p50)
    .filter((v): v is number => v !== null)
    .sort((a, b) => a - b);
  const p99s = ss.map((s) => s.p99).filter((v): v is number => v !== null);
  return {
    label,
    from_s: from,
    to_s: from + ss.length,
    offered: sum((s) => s.offered),
    sent: sum((s) => s.sent),
    dropped: sum((s) => s.dropped),
    ok,
    s5xx: sum((s) => s.s5xx),
    errors: sum((s) => s.errors),
    timeouts: sum((s) => s.timeouts),
    success: known > 0 ? ok / known : null,
    p50_ms: p50s.length ? (p50s[Math.floor(p50s.length / 2)] as number) : null,
    p99_worst_ms: p99s.length ? Math.max(...p99s) : null,
  };
}
