// The baseline as measured: how hard each service worked in the seconds before the first fault, and
// whether that is the pressure the scenario's story needs. A replay whose database idles where the
// seed's was near its limit says "setup did not hold" instead of a verdict about a system that was
// never under that pressure — on a faster, slower or busier host alike.
import type { DbCalibration } from "../calibrate/postgres.js";
import { BASELINE_METRICS, type BaselineMetric, type Scenario } from "../scenario/schema.js";
import { formatShareRange, type ShareRange } from "../scenario/units.js";
import type { Span } from "./mechanisms.js";
import type { Series } from "./series.js";

export interface BaselineCheck {
  service: string;
  metric: BaselineMetric;
  range: ShareRange;
  /** share of the limit; null when it could not be measured */
  measured: number | null;
  pass: boolean;
  /** where the number came from */
  source: string;
}

export interface Setup {
  /** null: the scenario requires nothing */
  held: boolean | null;
  window: Span;
  /** service → metric → share, for every service whatever was required */
  utilisation: Record<string, Partial<Record<BaselineMetric, number>>>;
  checks: BaselineCheck[];
  /** postgres service → CPU per transaction over the window, ms (cgroup CPU ÷ Postgres's own commit
   * and rollback counters), where it ran at least 5 a second: declared CPU time, as measured */
  cpu_per_xact_ms: Record<string, number>;
  /** the plain line when it did not hold */
  failure: string | null;
}

const DEFAULT_WINDOW_MS = 5000;

/** The `window` seconds that end one second before the first fault: that second may already carry
 * the fault's first effects, and leaving it out lets the run check the baseline live, before the
 * fault is applied, on the same seconds the analysis checks afterwards. */
export function baselineWindow(scenario: Scenario, firstFault: number): Span {
  const len = Math.max(1, Math.round((scenario.baseline?.window ?? DEFAULT_WINDOW_MS) / 1000));
  const to = Math.max(1, firstFault - 1);
  return { from: Math.max(0, to - len), to };
}

const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Each service's utilisation over `w`, as shares of its limits. */
export function utilisation(
  scenario: Scenario,
  s: Series,
  w: Span,
  calibrations: DbCalibration[],
): Record<string, Partial<Record<BaselineMetric, number>>> {
  const out: Record<string, Partial<Record<BaselineMetric, number>>> = {};
  const offered = mean(s.users.slice(w.from, w.to).map((u) => u.offered));
  for (const [name, svc] of Object.entries(scenario.services)) {
    const rows = (s.services[name] ?? []).slice(w.from, w.to);
    const u: Partial<Record<BaselineMetric, number>> = {};
    const limit = svc.cpus ? svc.cpus * svc.replicas : undefined;
    const cpu = mean(rows.flatMap((r) => (r.cpu_cores === undefined ? [] : [r.cpu_cores])));
    if (cpu !== null && limit) u.cpu = cpu / limit;
    const mem = rows.flatMap((r) => (r.memory_share === undefined ? [] : [r.memory_share]));
    if (mem.length && svc.memory) u.memory = Math.max(...mem);
    const busy = mean(rows.flatMap((r) => (r.in_flight !== undefined && r.workers ? [r.in_flight / r.workers] : [])));
    if (busy !== null) u.busy = busy;
    const perRead = calibrations.find((c) => c.service === name)?.check?.measured_ms;
    if (perRead !== undefined && offered !== null && limit) u["cpu-uncached"] = (offered * perRead) / 1000 / limit;
    out[name] = u;
  }
  return out;
}

function cpuPerXact(scenario: Scenario, s: Series, w: Span): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, svc] of Object.entries(scenario.services)) {
    if (svc.kind !== "postgres" && svc.kind !== "mariadb") continue;
    let cpuMs = 0;
    let xacts = 0;
    for (const r of (s.services[name] ?? []).slice(w.from, w.to)) {
      // MariaDB: statements (Questions, the reader's taken off) in place of transactions
      const x = svc.kind === "mariadb" ? (r.questions_per_s ?? 0) : (r.xact_commit_per_s ?? 0) + (r.xact_rollback_per_s ?? 0);
      if (r.cpu_cores === undefined || x < 5) continue;
      cpuMs += r.cpu_cores * 1000;
      xacts += x;
    }
    if (xacts > 0) out[name] = Math.round((cpuMs / xacts) * 10) / 10;
  }
  return out;
}

const SOURCE: Record<BaselineMetric, string> = {
  cpu: "cgroup CPU time ÷ the declared cpus limit",
  memory: "cgroup working set ÷ the memory limit",
  busy: "app_in_flight ÷ app_workers (the app's /metrics)",
  "cpu-uncached": "per-read CPU measured at calibration (cgroup) × offered requests/s ÷ the cpus limit",
};

export function checkSetup(scenario: Scenario, s: Series, firstFault: number, calibrations: DbCalibration[]): Setup {
  const window = baselineWindow(scenario, firstFault);
  const util = utilisation(scenario, s, window, calibrations);
  const checks: BaselineCheck[] = [];
  for (const [service, req] of Object.entries(scenario.baseline?.require ?? {}))
    for (const metric of Object.keys(BASELINE_METRICS) as BaselineMetric[]) {
      const range = req[metric];
      if (!range) continue;
      const measured = util[service]?.[metric] ?? null;
      const pass =
        measured !== null && (range.min === undefined || measured >= range.min) && (range.max === undefined || measured <= range.max);
      checks.push({ service, metric, range, measured, pass, source: SOURCE[metric] });
    }
  const failed = checks.filter((c) => !c.pass);
  return {
    held: checks.length ? failed.length === 0 : null,
    window,
    utilisation: util,
    checks,
    cpu_per_xact_ms: cpuPerXact(scenario, s, window),
    failure: failed.length
      ? `setup did not hold: ${failed.map((c) => describeCheck(c)).join("; ")} (baseline ${window.from}-${window.to} s)`
      : null,
  };
}

const METRIC_WORDS: Record<BaselineMetric, string> = {
  cpu: "of its CPU",
  memory: "of its memory",
  busy: "of its slots busy",
  "cpu-uncached": "of its CPU needed if uncached",
};

export function describeCheck(c: BaselineCheck): string {
  const got =
    c.measured === null
      ? `${c.service}: ${c.metric} could not be measured`
      : `${c.service} at ${pct(c.measured)} ${METRIC_WORDS[c.metric]}`;
  return `${got}; the scenario needs ${formatShareRange(c.range)}`;
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/** "db cpu 41 %, memory 12 %; app busy 8 %" for a summary line. */
export function describeUtilisation(u: Setup["utilisation"]): string {
  return Object.entries(u)
    .filter(([, m]) => Object.keys(m).length)
    .map(
      ([svc, m]) =>
        `${svc} ${Object.entries(m)
          .map(([k, v]) => `${k} ${pct(v)}`)
          .join(", ")}`,
    )
    .join("; ");
}
