// The report's charts as vega-lite specs, built from a run's model: what users saw (offered load,
// goodput, errors by class; latency percentiles), what the dependencies did (database load, cache
// hit ratio, cache connections), saturation (queues, memory against the limit, container events)
// and amplification over time. Every panel shades the fault windows; the labels sit in a strip
// above the first panel. A chart is a list of panels (one y axis each) turned into a spec here,
// so the compare view can put two runs' panels side by side on the same axes.
import type { Series } from "../analyze/series.js";
import type { FaultWindow, LiveModel, Mark, ReportModel } from "./model.js";
import type { CohortSample } from "../load/cohorts.js";
import type { LoadLatency } from "../load/types.js";

/** One row per second: t and one field per series (absent = no reading that second). */
export type WideRow = { t: number } & Record<string, number | null>;

export interface SeriesDef {
  /** the field in the panel's rows ("s0", "s1", …): names stay out of field syntax */
  key: string;
  /** what the legend and the tooltip say */
  name: string;
  color: string;
  /** stacked area instead of a line */
  area?: boolean;
  dash?: boolean;
}

export interface Rule {
  value: number;
  label: string;
}

export interface StripData {
  services: string[];
  marks: Mark[];
  /** stretches with fewer containers running than the service has */
  down: Array<{ service: string; from: number; to: number; detail: string }>;
}

export interface Panel {
  /** unique within its chart; the compare view matches panels by it */
  id: string;
  title: string;
  yTitle: string;
  height: number;
  series: SeriesDef[];
  rows: WideRow[];
  log?: boolean;
  /** values are shares (0..1), shown as % */
  percent?: boolean;
  /** whole numbers (requests, connections): no ticks between integers */
  counts?: boolean;
  rules?: Rule[];
  /** a container-event strip instead of lines */
  strip?: StripData;
  /** said in the panel when it has nothing to draw */
  empty: string;
}

export interface Chart {
  name: "load" | "latency" | "dependencies" | "saturation" | "amplification";
  title: string;
  /** one sentence: what to read in it */
  caption: string;
  panels: Panel[];
}

export type VlSpec = Record<string, unknown>;

/** How a chart is laid out: its time axis, fault windows, and (compare view) fixed y domains. */
export interface Frame {
  xMax: number;
  windows: FaultWindow[];
  width: number;
  /** label lanes to reserve above the first panel (compare: the same for both runs) */
  lanes?: number;
  /** panel id → [min, max] of its y axis */
  yDomains?: Record<string, [number, number]>;
  /** shown above the first panel (compare: which run) */
  heading?: string;
  /** seconds per bucket the run's lines were drawn in (bucketOf), said in the time axis' title */
  bucket?: number;
  legend?: boolean;
}

export const PLOT_WIDTH = 860;
const PANEL_HEIGHT = 230;
const SUB_HEIGHT = 140;
const LANE_PX = 14;
const LEGEND_LABEL_LIMIT = 260;
const FONT = "Liberation Sans, Arial, Helvetica, DejaVu Sans, sans-serif";
const FAULT_FILL = "#e45756";
const LOAD_FILL = "#4c78a8";
const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac"];

export const CONFIG = {
  // No per-item ARIA descriptions: a line of 1,800 points would carry 1,800 formatted sentences
  // (most of the render time); the chart's description says what it shows.
  aria: false,
  font: FONT,
  background: "white",
  padding: 10,
  view: { stroke: "#ddd" },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: "normal", titleColor: "#333", gridColor: "#eee", labelLimit: 120 },
  axisY: { minExtent: 44, maxExtent: 60 },
  legend: { labelLimit: 260, titleLimit: 260, labelFontSize: 11, titleFontSize: 11, symbolStrokeWidth: 2.5, rowPadding: 3 },
  title: { anchor: "start", fontSize: 15, subtitleFontSize: 11, subtitleColor: "#555", offset: 8 },
  header: { labelFontSize: 12 },
  concat: { spacing: 14 },
  text: { font: FONT },
};

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------- panels from a run

type Col = Array<number | null>;

/** Columns already read, per series: the charts ask for the same ones several times (which
 * services carry a reading, then its values). Read-only: callers map them into new arrays. */
const columns = new WeakMap<Series, Map<string, Col | null>>();

function col(s: Series, svc: string, key: string): Col | null {
  let known = columns.get(s);
  if (!known) {
    known = new Map();
    columns.set(s, known);
  }
  const id = `${svc}\u0000${key}`;
  const hit = known.get(id);
  if (hit !== undefined) return hit;
  const rows = s.services[svc];
  const c = rows?.some((r) => r[key] !== undefined) ? rows.map((r) => (r[key] === undefined ? null : (r[key] as number))) : null;
  known.set(id, c);
  return c;
}

const servicesOf = (s: Series, kind: string) => Object.keys(s.kinds).filter((k) => s.kinds[k] === kind);
/** services whose readings carry a key (the reference app's metrics, or a user image that exports them) */
const servicesWith = (s: Series, key: string) => Object.keys(s.services).filter((svc) => col(s, svc, key) !== null);

/** Past this many seconds a panel is downsampled (see envelope): 300 points over the 860 px plot
 * are ~3 px apart, and the report of a 30-minute run renders in about half the time of 600. */
export const MAX_POINTS = 300;

/** Seconds per bucket a run of this length is drawn in (1: second by second). */
export const bucketOf = (seconds: number): number => (seconds > MAX_POINTS ? Math.ceil(seconds / (MAX_POINTS / 2)) : 1);

/** The time axis' title; a downsampled chart says how it was drawn. */
export const timeTitle = (bucket = 1): string =>
  bucket > 1 ? `seconds since load start (lines: the lowest and highest second of every ${bucket} s)` : "seconds since load start";

/** Wide rows from named columns; a column may be shorter (missing seconds stay absent). */
export function wide(seconds: number, cols: Array<[string, Col]>): WideRow[] {
  if (bucketOf(seconds) > 1) return envelope(seconds, cols);
  const rows: WideRow[] = [];
  for (let t = 0; t < seconds; t++) {
    const row: WideRow = { t };
    for (const [name, c] of cols) {
      const v = c[t];
      if (v !== null && v !== undefined && Number.isFinite(v)) row[name] = round(v);
    }
    rows.push(row);
  }
  return rows;
}

/** A long run drawn in buckets of k seconds, two rows per bucket: each series' lowest and highest
 * second of the bucket, in the order they happened. A one-second spike (or dip) stays at its
 * height; a chart of 30 minutes renders about 300 points per series instead of 1,800. */
function envelope(seconds: number, cols: Array<[string, Col]>): WideRow[] {
  const k = bucketOf(seconds);
  const rows: WideRow[] = [];
  for (let from = 0; from < seconds; from += k) {
    const to = Math.min(seconds, from + k);
    const a: WideRow = { t: from };
    const b: WideRow = { t: from + (to - from) / 2 };
    for (const [name, c] of cols) {
      let lo: [number, number] | undefined;
      let hi: [number, number] | undefined;
      for (let t = from; t < to; t++) {
        const v = c[t];
        if (v === null || v === undefined || !Number.isFinite(v)) continue;
        if (!lo || v < lo[1]) lo = [t, v];
        if (!hi || v > hi[1]) hi = [t, v];
      }
      if (!lo || !hi) continue;
      const [first, second] = lo[0] <= hi[0] ? [lo, hi] : [hi, lo];
      a[name] = round(first[1]);
      b[name] = round(second[1]);
    }
    rows.push(a, b);
  }
  return rows;
}

class PanelBuilder {
  readonly cols: Array<[string, Col]> = [];
  readonly defs: SeriesDef[] = [];
  private next = 0;
  constructor(private readonly palette = PALETTE) {}
  add(name: string, c: Col | null, opts: Partial<SeriesDef> = {}): void {
    if (!c?.some((v) => v !== null)) return;
    const key = `s${this.defs.length}`;
    this.cols.push([key, c]);
    this.defs.push({ key, name, color: opts.color ?? (this.palette[this.next++ % this.palette.length] as string), ...opts });
  }
  panel(seconds: number, p: Omit<Panel, "series" | "rows">): Panel {
    const rows = wide(seconds, this.cols);
    // A stepped area draws second t from t to t+1: the last second needs a closing point.
    const areas = this.defs.filter((d) => d.area).map((d) => d.key);
    const last = rows.at(-1);
    if (areas.length && last) rows.push({ t: seconds, ...Object.fromEntries(areas.map((k) => [k, last[k] ?? null])) });
    return { ...p, series: this.defs, rows };
  }
}

const map2 = (a: Col | null, b: Col | null, f: (x: number, y: number) => number | null): Col | null =>
  a && b ? a.map((x, i) => (x === null || b[i] === null || b[i] === undefined ? null : f(x, b[i] as number))) : null;
/** Second by second, the sum of the columns that have a value then (null where none has one). */
const sum = (cols: Array<Col | null>): Col | null => {
  const cs = cols.filter((c): c is Col => c !== null);
  if (!cs.length) return null;
  return (cs[0] as Col).map((_, i) => {
    let total: number | null = null;
    for (const c of cs) {
      const v = c[i];
      if (v !== null && v !== undefined) total = (total ?? 0) + v;
    }
    return total;
  });
};

/** Cohorts by second index (intended send second), or null for records from before they existed. */
function cohortsBySecond(m: LiveModel): Array<CohortSample | undefined> | null {
  const cs = m.run.cohorts;
  if (!cs?.length) return null;
  const out: Array<CohortSample | undefined> = Array.from({ length: m.series.seconds });
  for (const c of cs) if (c.t < out.length) out[c.t] = c;
  return out;
}

function loadChart(m: LiveModel): Chart {
  const s = m.series;
  const samples = m.run.load;
  const pick = (f: (x: (typeof samples)[number]) => number): Col => samples.map(f);
  const cohorts = cohortsBySecond(m);
  // By intended send second when the record has cohorts: goodput then never exceeds what was
  // sent, and a stall's late answers stay in the seconds that sent them.
  const byCohort = (f: (c: CohortSample) => number): Col | null => (cohorts ? cohorts.map((c) => (c ? f(c) : null)) : null);
  const b = new PanelBuilder();
  b.add(
    "offered",
    pick((x) => x.offered),
    { color: "#555555", dash: true },
  );
  b.add("goodput (2xx/3xx in time)", byCohort((c) => c.ok) ?? pick((x) => x.s2xx + x.s3xx), { color: "#54a24b" });
  const errs: Array<[string, Col, string]> = cohorts
    ? [
        ["4xx/5xx", byCohort((c) => c.failed) as Col, "#e45756"],
        ["timeouts", byCohort((c) => c.timeouts) as Col, "#9d755d"],
        ["connection errors", byCohort((c) => c.errors) as Col, "#b279a2"],
        ["dropped by the load driver", pick((x) => x.dropped ?? 0), "#bab0ac"],
      ]
    : [
        ["5xx", pick((x) => x.s5xx), "#e45756"],
        ["timeouts", pick((x) => x.timeouts), "#9d755d"],
        ["connection errors", pick((x) => x.errors), "#b279a2"],
        ["4xx", pick((x) => x.s4xx), "#f58518"],
        ["dropped by the load driver", pick((x) => x.dropped ?? 0), "#bab0ac"],
      ];
  for (const [name, c, color] of errs) if (c.some((v) => (v ?? 0) > 0)) b.add(name, c, { color, area: true });
  return {
    name: "load",
    title: "Offered load, goodput and errors",
    caption: cohorts
      ? "Requests per second by intended send second: what the load offered, how many of those came back in time (goodput), and how the rest failed, stacked. Shaded: fault windows."
      : "Requests per second: what the load offered, what users got back in time (goodput), and the failures by class, stacked, by the second they were seen. Shaded: fault windows.",
    panels: [
      b.panel(s.seconds, {
        id: "load",
        title: "requests per second",
        yTitle: "requests / s",
        height: PANEL_HEIGHT,
        counts: true,
        empty: "no load was sent",
      }),
    ],
  };
}

function latencyChart(m: LiveModel): Chart {
  const cohorts = cohortsBySecond(m);
  const samples = m.run.load;
  // By intended send second when the record has cohorts: a stalled second shows its stall, not the
  // few requests that happened to complete in it.
  const rows: Array<LoadLatency | undefined> = cohorts ?? samples;
  const pick = (f: (x: LoadLatency) => number | null): Col => rows.map((x) => (x && (f(x) ?? 0) > 0 ? f(x) : null));
  const b = new PanelBuilder();
  // max first, so it is drawn under p99 (with a few hundred requests a second they often coincide)
  b.add(
    "max",
    pick((x) => x.max),
    { color: "#f2a7a7", dash: true },
  );
  b.add(
    "p50",
    pick((x) => x.p50),
    { color: "#4c78a8" },
  );
  b.add(
    "p95",
    pick((x) => x.p95),
    { color: "#72b7b2" },
  );
  b.add(
    "p99",
    pick((x) => x.p99),
    { color: "#f58518" },
  );
  const slo = m.run.scenario.slo;
  const rules: Rule[] = [];
  for (const q of ["p50", "p95", "p99"] as const) {
    const v = slo[q];
    if (v !== undefined) rules.push({ value: v, label: `SLO ${q} ${v} ms` });
  }
  rules.push({ value: m.run.scenario.load.timeout, label: `client deadline ${m.run.scenario.load.timeout} ms` });
  return {
    name: "latency",
    title: "Latency percentiles",
    caption: cohorts
      ? "Latency of the requests planned for each second (by intended send second), from that intended time (log scale); timeouts count at the deadline."
      : "Per-second latency from each request's intended send time, by the second it completed (log scale); timeouts count at the deadline.",
    panels: [
      b.panel(m.series.seconds, {
        id: "latency",
        title: "latency per second",
        yTitle: "ms (log)",
        height: PANEL_HEIGHT,
        log: true,
        rules,
        empty: "no request completed",
      }),
    ],
  };
}

function dependenciesChart(m: LiveModel): Chart {
  const s = m.series;
  const db = new PanelBuilder();
  for (const svc of servicesWith(s, "db_queries_per_s")) {
    db.add(`database queries/s (${svc})`, col(s, svc, "db_queries_per_s"));
    db.add(`database errors/s (${svc})`, col(s, svc, "db_errors_per_s"));
  }
  for (const svc of servicesOf(s, "postgres")) db.add(`transactions/s (${svc})`, col(s, svc, "xact_commit_per_s"));
  for (const svc of servicesOf(s, "mariadb")) db.add(`statements/s (${svc}, Questions)`, col(s, svc, "questions_per_s"));

  const ratio = new PanelBuilder(["#54a24b", "#e45756", "#4c78a8", "#eeca3b", "#b279a2"]);
  const appHits = servicesWith(s, "cache_hits_per_s");
  for (const svc of appHits) {
    // A lookup that failed (cache down, timed out) went to the database like a miss.
    const hits = col(s, svc, "cache_hits_per_s");
    const missed = sum([col(s, svc, "cache_misses_per_s"), col(s, svc, "cache_errors_per_s")]);
    ratio.add(
      `cache hit ratio (${svc})`,
      map2(hits, missed, (h, x) => (h + x > 0 ? h / (h + x) : null)),
    );
  }
  for (const svc of servicesOf(s, "memcached")) {
    if (appHits.length) break;
    ratio.add(
      `hit ratio (${svc})`,
      map2(col(s, svc, "get_hits_per_s"), col(s, svc, "cmd_get_per_s"), (h, g) => (g > 0 ? h / g : null)),
    );
  }
  for (const svc of servicesOf(s, "redis")) {
    if (appHits.length) break;
    ratio.add(
      `hit ratio (${svc})`,
      map2(col(s, svc, "keyspace_hits_per_s"), col(s, svc, "keyspace_misses_per_s"), (h, x) => (h + x > 0 ? h / (h + x) : null)),
    );
  }
  for (const svc of [...servicesOf(s, "postgres"), ...servicesOf(s, "mariadb")]) {
    const declared = m.cpuLimits[svc];
    const cpu = col(s, svc, "cpu_cores");
    // Against the limit in force each second, read from the cgroup (a resources fault changes it);
    // the declared limit only for records from before that reading existed.
    const inForce = col(s, svc, "cpu_limit");
    if (inForce?.some((v) => v !== null))
      ratio.add(
        `CPU of its limit in force (${svc})`,
        map2(cpu, inForce, (c, l) => (l > 0 ? c / l : null)),
      );
    else if (declared) ratio.add(`CPU of its ${declared}-core limit (${svc})`, cpu?.map((v) => (v === null ? null : v / declared)) ?? null);
  }

  const conns = new PanelBuilder();
  for (const svc of servicesOf(s, "memcached")) {
    conns.add(`open connections (${svc})`, col(s, svc, "curr_connections"));
    conns.add(`new connections/s (${svc})`, col(s, svc, "total_connections_per_s"));
    conns.add(`rejected connections/s (${svc})`, col(s, svc, "rejected_connections_per_s"), { color: "#e45756" });
  }
  for (const svc of servicesOf(s, "redis")) {
    conns.add(`open connections (${svc})`, col(s, svc, "connected_clients"));
    conns.add(`new connections/s (${svc})`, col(s, svc, "total_connections_received_per_s"));
    conns.add(`rejected connections/s (${svc})`, col(s, svc, "rejected_connections_per_s"), { color: "#e45756" });
    conns.add(`evicted keys/s (${svc})`, col(s, svc, "evicted_keys_per_s"));
  }
  for (const svc of servicesOf(s, "mariadb")) {
    conns.add(`open connections (${svc})`, col(s, svc, "threads_connected"));
    conns.add(`new connections/s (${svc})`, col(s, svc, "connections_per_s"));
    // MariaDB counts a refusal at max_connections in Aborted_connects (see analyze/figures.ts)
    conns.add(`refused connections/s (${svc})`, col(s, svc, "aborted_connects_per_s"), { color: "#e45756" });
  }
  for (const svc of servicesWith(s, "cache_errors_per_s")) conns.add(`cache errors/s (${svc})`, col(s, svc, "cache_errors_per_s"));
  return {
    name: "dependencies",
    title: "Dependency load",
    caption:
      "What the dependencies carried: database queries and transactions, the cache hit ratio beside the database's CPU against its limit, and the cache's connections (open, new, rejected). A gap is a second with no reading (the component was down or did not answer).",
    panels: [
      db.panel(s.seconds, {
        id: "database",
        title: "database load",
        yTitle: "per second",
        height: SUB_HEIGHT,
        counts: true,
        empty: "no database readings",
      }),
      ratio.panel(s.seconds, {
        id: "ratios",
        title:
          [
            ratio.defs.some((d) => d.name.includes("hit ratio")) ? "cache hit ratio" : "",
            ratio.defs.some((d) => d.name.startsWith("CPU")) ? "database CPU against its limit" : "",
          ]
            .filter(Boolean)
            .join(" · ") || "cache hit ratio · database CPU against its limit",
        yTitle: "share",
        height: SUB_HEIGHT,
        percent: true,
        empty: "no cache or database CPU readings",
      }),
      conns.panel(s.seconds, {
        id: "cache",
        title: "cache connections and errors",
        yTitle: "count · per second",
        height: SUB_HEIGHT,
        counts: true,
        empty: "no cache readings",
      }),
    ],
  };
}

function saturationChart(m: LiveModel): Chart {
  const s = m.series;
  const q = new PanelBuilder();
  // a user's image may map only one of the two (its scenario's metrics:)
  for (const svc of new Set([...servicesWith(s, "queue_depth"), ...servicesWith(s, "in_flight")])) {
    q.add(`queue depth (${svc})`, col(s, svc, "queue_depth"));
    q.add(`in flight (${svc})`, col(s, svc, "in_flight"));
  }
  for (const svc of servicesOf(s, "haproxy")) q.add(`load balancer queue (${svc})`, col(s, svc, "queue"));

  const mem = new PanelBuilder();
  for (const svc of Object.keys(s.services)) {
    if (s.kinds[svc] === "toxiproxy") continue;
    mem.add(`memory (${svc})`, col(s, svc, "memory_share"));
  }
  // Marks on a service the plan does not know (a foreign container event) have no row to sit on.
  const strip: StripData = { services: [], marks: m.marks.filter((x) => x.service in s.services), down: [] };
  for (const [svc, rows] of Object.entries(s.services)) {
    if (s.kinds[svc] === "toxiproxy") continue;
    let from: number | null = null;
    let worst = "";
    rows.forEach((r, t) => {
      const { running, replicas } = r;
      const isDown = running !== undefined && replicas !== undefined && running < replicas;
      if (isDown && from === null) from = t;
      if (isDown) worst = `${(replicas ?? 0) - (running ?? 0)} of ${replicas} container(s) of ${svc} not running`;
      if (!isDown && from !== null) {
        strip.down.push({ service: svc, from, to: t, detail: worst });
        from = null;
      }
    });
    if (from !== null) strip.down.push({ service: svc, from, to: s.seconds, detail: worst });
  }
  const involved = new Set([...strip.marks.map((x) => x.service), ...strip.down.map((d) => d.service)]);
  strip.services = Object.keys(s.services).filter((svc) => involved.has(svc));
  return {
    name: "saturation",
    title: "Saturation",
    caption:
      "Queues and requests in flight; each service's memory as a share of its container limit (the highest replica); and container events — deaths, OOM kills, restarts, worker replacements — with the stretches a service had containers down.",
    panels: [
      q.panel(s.seconds, {
        id: "queues",
        title: "queues and requests in flight",
        yTitle: "requests",
        height: SUB_HEIGHT,
        counts: true,
        empty: "no queue readings",
      }),
      mem.panel(s.seconds, {
        id: "memory",
        title: "memory against the container limit",
        yTitle: "share of limit",
        height: SUB_HEIGHT,
        percent: true,
        rules: [{ value: 1, label: "limit" }],
        empty: "no container has a memory limit",
      }),
      {
        id: "events",
        title: "container events",
        yTitle: "",
        height: Math.max(44, strip.services.length * Math.max(24, 14 * new Set(strip.marks.map((x) => x.replica)).size)),
        series: [],
        rows: [],
        strip,
        empty: "no container died, restarted or was OOM-killed, and no worker was replaced",
      },
    ],
  };
}

function amplificationChart(m: ReportModel): Chart {
  const s = m.series;
  const b = new PanelBuilder();
  const apps = servicesWith(s, "db_queries_per_s");
  const dbq = sum(apps.map((svc) => col(s, svc, "db_queries_per_s")));
  const retries = sum(apps.map((svc) => col(s, svc, "retries_per_s")));
  // requests the app layer served (HAProxy counts the same requests again in front of it)
  const appReq = sum(
    servicesWith(s, "requests_per_s")
      .filter((svc) => s.kinds[svc] !== "haproxy")
      .map((svc) => col(s, svc, "requests_per_s")),
  );
  const sent: Col = m.run.load.map((x) => x.sent);
  const userReq = appReq ?? sent;
  const per = (a: Col | null, d: Col | null) => map2(a, d, (x, y) => (y >= 1 ? x / y : null));
  b.add("database calls per request", per(dbq, userReq), { color: "#4c78a8" });
  b.add(
    "attempts per database call",
    map2(dbq, retries, (c, r) => (c - r >= 1 ? c / (c - r) : null)),
    { color: "#f58518" },
  );
  const newConns = sum(servicesWith(s, "cache_connections_per_s").map((svc) => col(s, svc, "cache_connections_per_s")));
  b.add("new cache connections per request", per(newConns, userReq), { color: "#b279a2" });
  const base = m.analysis.windows.baseline;
  const dbLoad =
    dbq ??
    sum([
      ...servicesOf(s, "postgres").map((svc) => col(s, svc, "xact_commit_per_s")),
      ...servicesOf(s, "mariadb").map((svc) => col(s, svc, "questions_per_s")),
    ]);
  if (dbLoad) {
    const xs = dbLoad.slice(base.from, base.to).filter((v): v is number => v !== null);
    const mean = xs.length ? xs.reduce((a, c) => a + c, 0) / xs.length : 0;
    if (mean > 0)
      b.add(
        "database load × its baseline",
        dbLoad.map((v) => (v === null ? null : v / Math.max(mean, 1))),
        { color: "#e45756" },
      );
  }
  return {
    name: "amplification",
    title: "Amplification over time",
    caption:
      "Work per user request, second by second: database calls per request, attempts per database call (retries), new cache connections per request (churn), and the database's load as a multiple of its baseline.",
    panels: [
      b.panel(s.seconds, {
        id: "amplification",
        title: "work per request, and database load against its baseline",
        yTitle: "multiple (×)",
        height: PANEL_HEIGHT,
        rules: [{ value: 1, label: "1×" }],
        empty: "no dependency counters in the readings",
      }),
    ],
  };
}

/** The charts that need no analysis (a live game day draws them each second), in report order. */
export function liveChartsOf(m: LiveModel): Chart[] {
  return [loadChart(m), latencyChart(m), dependenciesChart(m), saturationChart(m)];
}

/** The five charts of a run, in report order. */
export function chartsOf(m: ReportModel): Chart[] {
  return [loadChart(m), latencyChart(m), dependenciesChart(m), saturationChart(m), amplificationChart(m)];
}

// ---------------------------------------------------------------- specs

export interface LabelledWindow extends FaultWindow {
  lane: number;
  label: string;
  /** "from–to s" for tooltips */
  span: string;
}

/** Assigns each window's label a lane so that labels on one lane do not overlap (widths estimated). */
export function laneWindows(windows: FaultWindow[], xMax: number, width: number): LabelledWindow[] {
  const pxPerS = width / Math.max(1, xMax);
  const ends: number[] = [];
  return [...windows]
    .sort((a, b) => a.from - b.from)
    .map((w) => {
      const label = w.closedBy ? `${w.name} → ${w.closedBy}` : w.name;
      const x0 = w.from * pxPerS;
      const x1 = x0 + 4 + Math.min(label.length, 40) * 6.2;
      let lane = ends.findIndex((e) => e + 6 <= x0);
      if (lane < 0) {
        lane = ends.length;
        ends.push(x1);
      } else ends[lane] = x1;
      const span = w.to > w.from ? `${w.from}–${w.to} s` : `at ${w.from} s`;
      return { ...w, lane, label, span };
    });
}

export const lanesOf = (ws: LabelledWindow[]) => (ws.length ? Math.max(...ws.map((w) => w.lane)) + 1 : 0);

/** Largest value a panel draws (stacked areas summed), for shared axes. */
export function panelExtent(p: Panel): [number, number] | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const areas = p.series.filter((d) => d.area).map((d) => d.key);
  const lines = p.series.filter((d) => !d.area).map((d) => d.key);
  for (const r of p.rows) {
    let stack = 0;
    for (const n of areas) stack += (r[n] as number | undefined) ?? 0;
    if (areas.length) hi = Math.max(hi, stack);
    for (const n of [...lines, ...areas]) {
      const v = r[n];
      if (typeof v === "number") {
        hi = Math.max(hi, v);
        if (!p.log || v > 0) lo = Math.min(lo, v);
      }
    }
  }
  for (const rule of p.rules ?? []) hi = Math.max(hi, rule.value);
  return Number.isFinite(hi) ? [Number.isFinite(lo) ? lo : 0, hi] : null;
}

/** The x encoding every layer of a panel shares (the same axis object, so layers merge into one axis). */
const xEnc = (f: Frame, field: string, axis: "none" | "labels" | "titled") => ({
  field,
  type: "quantitative",
  scale: { domain: [0, f.xMax], nice: false, zero: true },
  axis: axis === "none" ? null : { title: axis === "titled" ? timeTitle(f.bucket) : null, tickMinStep: 1, labelFlush: true },
});

const WINDOW_TOOLTIP = [
  { field: "name", title: "fault" },
  { field: "kind", title: "kind" },
  { field: "target", title: "on" },
  { field: "span", title: "when" },
];
const windowColor = (fault: string, load: string) => ({ condition: { test: "datum.load", value: load }, value: fault });

/** The shaded fault windows (and instants as dashed rules) behind a panel. */
function windowLayers(dataName: string, f: Frame, axis: "none" | "labels" | "titled"): VlSpec[] {
  // Only the layers that draw something: an empty layer still costs vega a mark to build.
  const layers: VlSpec[] = [];
  if (f.windows.some((w) => w.to > w.from))
    layers.push({
      data: { name: dataName },
      transform: [{ filter: "datum.to > datum.from" }],
      mark: { type: "rect", opacity: 0.12 },
      encoding: { x: xEnc(f, "from", axis), x2: { field: "to" }, color: windowColor(FAULT_FILL, LOAD_FILL), tooltip: WINDOW_TOOLTIP },
    });
  if (f.windows.some((w) => w.to <= w.from))
    layers.push({
      data: { name: dataName },
      transform: [{ filter: "datum.to <= datum.from" }],
      mark: { type: "rule", strokeDash: [4, 3], strokeWidth: 1.5 },
      encoding: { x: xEnc(f, "from", axis), color: windowColor(FAULT_FILL, LOAD_FILL), tooltip: WINDOW_TOOLTIP },
    });
  return layers;
}

/** The label strip above the first panel: each window's name at its start, on its lane. */
function labelStrip(dataName: string, f: Frame, lanes: number): VlSpec {
  const y = { field: "laneY", type: "quantitative", scale: null };
  return {
    height: lanes * LANE_PX,
    width: f.width,
    view: { stroke: null },
    layer: [
      ...(f.windows.some((w) => w.to > w.from)
        ? [
            {
              data: { name: dataName },
              transform: [{ filter: "datum.to > datum.from" }],
              mark: { type: "rect", opacity: 0.12 },
              encoding: {
                x: xEnc(f, "from", "none"),
                x2: { field: "to" },
                y: { value: 0 },
                y2: { value: lanes * LANE_PX },
                color: windowColor(FAULT_FILL, LOAD_FILL),
              },
            },
          ]
        : []),
      {
        data: { name: dataName },
        mark: { type: "tick", thickness: 2, size: LANE_PX - 3 },
        encoding: { x: xEnc(f, "from", "none"), y, color: windowColor(FAULT_FILL, LOAD_FILL) },
      },
      {
        data: { name: dataName },
        mark: { type: "text", align: "left", baseline: "middle", dx: 4, fontSize: 11, limit: 260 },
        encoding: {
          x: xEnc(f, "from", "none"),
          y,
          text: { field: "label" },
          color: windowColor("#a83232", "#2f5d8a"),
          tooltip: WINDOW_TOOLTIP,
        },
      },
    ],
  };
}

type Title = Record<string, unknown>;

/** A panel with nothing to draw: the fault windows and a sentence saying what is missing. */
function emptyPanel(base: VlSpec, message: string, windowsName: string, f: Frame, axis: "labels" | "titled", height: number): VlSpec {
  return {
    ...base,
    layer: [
      ...windowLayers(windowsName, f, axis),
      {
        data: { values: [{ message, x: f.xMax / 2 }] },
        mark: { type: "text", fontSize: 12, color: "#777", baseline: "middle" },
        encoding: { text: { field: "message" }, x: xEnc(f, "x", axis), y: { value: height / 2 } },
      },
    ],
  };
}

/** One panel as a layered view: windows, lines/areas, reference rules, and a hover rule with every series' value. */
export function panelSpec(p: Panel, dataName: string, windowsName: string, f: Frame, opts: { last: boolean; key: string }): VlSpec {
  // frame "group": every panel's title starts at its plot's left edge, whatever its axis labels' width
  const title: Title = { text: p.title, anchor: "start", frame: "group", fontSize: 12, fontWeight: "bold", offset: 4 };
  const axis = opts.last ? "titled" : "labels";
  const base = { title, width: f.width, height: p.height };
  if (p.strip) return stripSpec(p, p.strip, windowsName, f, axis, base);
  if (!p.series.length) return emptyPanel(base, p.empty, windowsName, f, axis, p.height);
  // Rows name the series by key ("s0", …), the colour scale's domain; the legend says the names.
  const keys = p.series.map((d) => d.key);
  const labels = Object.fromEntries(p.series.map((d) => [d.key, d.name]));
  const legend =
    f.legend === false
      ? null
      : {
          title: null,
          orient: "right",
          labelLimit: LEGEND_LABEL_LIMIT,
          symbolType: "stroke",
          labelExpr: `${JSON.stringify(labels)}[datum.label]`,
          // the legend's symbol of a dashed line is dashed
          ...(p.series.some((d) => d.dash)
            ? {
                symbolDash: {
                  expr: `indexof(${JSON.stringify(p.series.filter((d) => d.dash).map((d) => d.key))}, datum.value) >= 0 ? [5, 3] : []`,
                },
              }
            : {}),
        };
  const yDomain = f.yDomains?.[p.id];
  const yScale: Record<string, unknown> = p.log ? { type: "log" } : { zero: true };
  if (yDomain) yScale.domain = p.log ? [Math.max(yDomain[0], 0.1), yDomain[1]] : [0, yDomain[1]];
  else if (p.percent) yScale.domain = [0, Math.max(1, panelExtent(p)?.[1] ?? 1)];
  // Linear axes keep vega's own tick format (1,500 — an SI format would print "0k, 0.5k, 1k").
  const yAxis: Record<string, unknown> = { title: p.yTitle, tickCount: p.height > 180 ? 6 : 4 };
  if (p.percent) yAxis.format = ".0%";
  if (p.counts) yAxis.tickMinStep = 1;
  if (p.log) yAxis.format = "~s";
  if (p.log) {
    // One tick and grid line per decade: the default 2…9 minor lines make a log axis unreadable.
    const [lo, hi] = yDomain ?? panelExtent(p) ?? [1, 1000];
    const decades: number[] = [];
    for (let e = Math.floor(Math.log10(Math.max(lo, 0.1))); e <= Math.ceil(Math.log10(Math.max(hi, 1))); e++) decades.push(10 ** e);
    yAxis.values = decades;
    yScale.domain = [decades[0], decades.at(-1)];
  }
  const y = (field: string) => ({ field, type: "quantitative", scale: yScale, axis: yAxis });
  const areas = p.series.filter((d) => d.area).map((d) => d.key);
  // every series' colour (and the legend) from one scale over the series' keys
  const color = (key: string) => ({
    datum: key,
    type: "nominal",
    scale: { domain: keys, range: p.series.map((d) => d.color) },
    legend,
  });
  const layers: VlSpec[] = [...windowLayers(windowsName, f, axis)];
  // Stacked areas, a layer each from the sum of those below to the sum up to it (a missing value
  // counts 0, as vega-lite's stack imputes it), bottom first.
  const sumOf = (ks: string[]) => (ks.length ? ks.map((k) => `(datum[${JSON.stringify(k)}] || 0)`).join(" + ") : "0");
  for (const [j, k] of areas.entries())
    layers.push({
      data: { name: dataName },
      transform: [
        { calculate: sumOf(areas.slice(0, j + 1)), as: "top" },
        { calculate: sumOf(areas.slice(0, j)), as: "base" },
      ],
      mark: { type: "area", opacity: 0.75, interpolate: "step-after" },
      encoding: {
        x: xEnc(f, "t", axis),
        y: { ...y("top"), stack: null },
        y2: { field: "base" },
        color: color(k),
      },
    });
  // A layer per line, its colour a constant (datum) through the panel's colour scale: vega draws
  // each as one mark. (Folded into key/value rows and coloured by field, as before, every series
  // was a facet: a sub-dataflow vega builds at run time, a fifth of a cold report's CPU time.)
  for (const d of p.series.filter((x) => !x.area))
    layers.push({
      data: { name: dataName },
      mark: { type: "line", strokeWidth: 1.6, ...(d.dash ? { strokeDash: [5, 3] } : {}) },
      encoding: {
        x: xEnc(f, "t", axis),
        y: y(d.key),
        color: color(d.key),
      },
    });
  // The reference rules and their labels: one layer of each for all of them.
  if (p.rules?.length)
    layers.push(
      {
        data: { values: p.rules },
        mark: { type: "rule", color: "#888", strokeDash: [2, 3], strokeWidth: 1 },
        encoding: { y: { field: "value", type: "quantitative" } },
      },
      {
        data: { values: p.rules },
        mark: { type: "text", align: "right", baseline: "bottom", dy: -2, fontSize: 10, color: "#666" },
        encoding: { y: { field: "value", type: "quantitative" }, x: { value: f.width - 2 }, text: { field: "label" } },
      },
    );
  // Hover: the nearest second's rule, with every series' value in the tooltip.
  const fmt = p.percent ? ".1%" : ",.2~f";
  layers.push({
    data: { name: dataName },
    mark: { type: "rule", color: "#444", strokeWidth: 1 },
    encoding: {
      x: xEnc(f, "t", axis),
      opacity: { condition: { param: `hover_${opts.key}`, empty: false, value: 0.4 }, value: 0 },
      tooltip: [
        { field: "t", type: "quantitative", title: "second" },
        ...p.series.map((d) => ({ field: d.key, type: "quantitative", title: d.name, format: fmt })),
      ],
    },
    params: [
      { name: `hover_${opts.key}`, select: { type: "point", fields: ["t"], nearest: true, on: "pointerover", clear: "pointerout" } },
    ],
  });
  return { ...base, layer: layers };
}

/** Container events: a row per service, a symbol per event, a bar where containers were down. */
function stripSpec(p: Panel, strip: StripData, windowsName: string, f: Frame, axis: "labels" | "titled", base: VlSpec): VlSpec {
  if (!strip.services.length) return emptyPanel(base, p.empty, windowsName, f, axis, p.height);
  const yEnc = {
    field: "service",
    type: "nominal",
    scale: { type: "band", domain: strip.services, paddingInner: 0.15 },
    axis: { title: null, labelLimit: 110 },
  };
  const lanes = [...new Set(strip.marks.map((x) => x.replica))].sort((x, y) => x - y);
  const present = new Set(strip.marks.map((x) => x.what));
  const palette: Array<[Mark["what"], string, string]> = [
    ["died", "#e45756", "cross"],
    ["OOM kill", "#7b1fa2", "diamond"],
    ["restart", "#f58518", "triangle-up"],
    ["started", "#54a24b", "circle"],
    ["worker restart", "#4c78a8", "square"],
  ];
  const used = palette.filter(([k]) => present.has(k));
  const kinds = used.map(([k]) => k);
  const legend = f.legend === false ? null : { title: null, orient: "right", labelLimit: LEGEND_LABEL_LIMIT };
  return {
    ...base,
    layer: [
      ...windowLayers(windowsName, f, axis),
      {
        data: { values: strip.down.map((d) => ({ ...d, span: `${d.from}–${d.to} s` })) },
        mark: { type: "bar", color: "#e45756", opacity: 0.3, height: { band: 0.6 } },
        encoding: {
          x: xEnc(f, "from", axis),
          x2: { field: "to" },
          y: yEnc,
          tooltip: [
            { field: "service", title: "service" },
            { field: "detail", title: "down" },
            { field: "span", title: "when" },
          ],
        },
      },
      {
        data: { values: strip.marks },
        mark: { type: "point", filled: true, size: 80, opacity: 0.95 },
        encoding: {
          x: xEnc(f, "t", axis),
          y: yEnc,
          // each replica on its own lane within its service's row
          yOffset: { field: "replica", type: "nominal", scale: { type: "band", domain: lanes, paddingInner: 0.1 } },
          color: { field: "what", type: "nominal", scale: { domain: kinds, range: used.map(([, c]) => c) }, legend },
          shape: { field: "what", type: "nominal", scale: { domain: kinds, range: used.map(([, , sh]) => sh) }, legend },
          tooltip: [
            { field: "t", type: "quantitative", title: "second" },
            { field: "service", title: "service" },
            { field: "what", title: "event" },
            { field: "detail", title: "detail" },
          ],
        },
      },
    ],
  };
}

/** The panels of one chart for one run as a column: label strip, then each panel. */
export function columnSpecs(c: Chart, f: Frame, prefix: string): { views: VlSpec[]; datasets: Record<string, unknown[]> } {
  const windows = laneWindows(f.windows, f.xMax, f.width);
  const lanes = Math.max(f.lanes ?? 0, lanesOf(windows));
  const windowsName = `${prefix}windows`;
  const datasets: Record<string, unknown[]> = {
    [windowsName]: windows.map((w) => ({ ...w, laneY: (w.lane + 0.5) * LANE_PX })),
  };
  const views: VlSpec[] = [];
  if (lanes > 0) views.push(labelStrip(windowsName, f, lanes));
  c.panels.forEach((p, i) => {
    const dataName = `${prefix}${p.id}`;
    datasets[dataName] = p.rows;
    views.push(panelSpec(p, dataName, windowsName, f, { last: i === c.panels.length - 1, key: `${prefix}${p.id}`.replace(/\W/g, "_") }));
  });
  return { views, datasets };
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** A chart of one run as a complete vega-lite spec (data inline). */
export function chartSpec(c: Chart, m: LiveModel, frame?: Partial<Frame>): VlSpec {
  const f: Frame = {
    xMax: Math.max(1, m.series.seconds),
    windows: m.windows,
    width: PLOT_WIDTH,
    bucket: bucketOf(m.series.seconds),
    ...frame,
  };
  const { views, datasets } = columnSpecs(c, f, "");
  return {
    $schema: SCHEMA,
    title: { text: c.title, subtitle: `${m.run.scenario.name} · ${m.meta.id}` },
    description: `${c.title}: ${c.caption}`,
    config: CONFIG,
    datasets,
    vconcat: views,
    spacing: 10,
    resolve: { scale: { color: "independent", strokeDash: "independent", shape: "independent" }, legend: { color: "independent" } },
  };
}

export { SCHEMA };
