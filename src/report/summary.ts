// The plain-text summary printed at the end of a run.
import type { RunResult } from "../run/run.js";
import type { WindowStats } from "../analyze/windows.js";

const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(1)}%`);
const ms = (v: number | null) => (v === null ? "-" : `${Math.round(v)}`);

export function formatSummary(r: RunResult): string {
  const rows: string[][] = [["window", "seconds", "sent/s", "success", "5xx", "conn err", "timeouts", "p50 ms", "worst p99 ms"]];
  const row = (w: WindowStats) => {
    const secs = w.to_s - w.from_s;
    rows.push([
      w.label,
      `${w.from_s}-${w.to_s}`,
      (w.sent / Math.max(1, secs)).toFixed(0),
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
    "",
    ...table,
    "",
    `faults: ${r.faults.length} events, scheduling lag max ${lag.length ? Math.max(...lag) : 0} ms` +
      (r.faults.some((f) => f.action === "error")
        ? ` — ${r.faults.filter((f) => f.action === "error").length} failed (see events.ndjson)`
        : ""),
    `timings: images ${(t.images / 1000).toFixed(1)} s, topology up ${(t.topology_up / 1000).toFixed(1)} s, load ${(t.load / 1000).toFixed(1)} s, teardown ${(t.teardown / 1000).toFixed(1)} s`,
    r.teardown
      ? `teardown: removed ${r.teardown.containers} containers and ${r.teardown.networks} network(s)`
      : "teardown: FAILED — run `cascade down`",
    `record: ${r.dir}`,
  ].join("\n");
}
