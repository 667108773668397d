// Per-second series the analysis reasons on: what users saw (from the load samples) next to what
// each service did (rates from the components' counters, gauges as read), summed over replicas.
import type { LoadSample } from "../load/driver.js";
import type { ComponentsSample } from "../observe/observer.js";
import type { Reading } from "../observe/samplers.js";
import { type Selector, selectorText } from "../scenario/selector.js";
import { REDIS_COUNTERS } from "../types/redis-info.js";

export interface UserSecond {
  offered: number;
  sent: number;
  dropped: number;
  /** 2xx/3xx within the client deadline */
  good: number;
  /** 5xx responses, and of them 503s: refusals (a shedding service, an LB with no server up) */
  s5xx: number;
  /** null in records from before 503s were counted apart */
  s503: number | null;
  /** good / outcomes known this second (responses, errors, timeouts, dropped arrivals): a
   * response that lands in a later second counts there, so a slow second is not a failed one */
  success: number | null;
  p50: number | null;
  p99: number | null;
}

/** One service's numbers for one second. Rates are per second; missing readings leave keys out. */
export type ServiceSecond = Record<string, number>;

export interface Series {
  seconds: number;
  users: UserSecond[];
  /** service name → kind */
  kinds: Record<string, string>;
  /** service → per-second values */
  services: Record<string, ServiceSecond[]>;
  /** seconds (per service) with a sampler missing */
  gaps: Record<string, number>;
  /** user images whose scenario maps their own metrics onto the app's readings: service → reading
   * → the user's metric it was read from (absent in records from before mapping existed) */
  mapped?: Record<string, Record<string, string>>;
}

/** Counters: their increase over the second becomes a rate; a drop is a restart (counter reset). */
const COUNTERS: Record<string, string[]> = {
  memcached: ["total_connections", "rejected_connections", "listen_disabled_num", "cmd_get", "get_hits", "get_misses"],
  redis: REDIS_COUNTERS,
  postgres: ["xact_commit", "xact_rollback", "sessions", "sessions_fatal", "sessions_killed", "sessions_abandoned", "calls", "exec_ms"],
  mariadb: [
    "questions",
    "connections",
    "aborted_connects",
    "connection_errors_max_connections",
    "aborted_clients",
    "max_statement_time_exceeded",
  ],
  haproxy: ["hrsp_5xx", "econ", "eresp", "requests", "server_sessions", "retries", "redispatches"],
  metrics: [
    "requests",
    "requests_5xx",
    "retries",
    "cache_hits",
    "cache_misses",
    "cache_errors",
    "cache_connections",
    "db_queries",
    "db_errors",
    "shed",
    "worker_restarts",
    "queue_wait_sum",
    "queue_wait_count",
  ],
  container: ["restarts", "procs_started"],
};

/** The same as sets: a reading's every key is checked against them. */
const COUNTER_SETS: Record<string, Set<string>> = Object.fromEntries(Object.entries(COUNTERS).map(([k, v]) => [k, new Set(v)]));

const known = (s: LoadSample) => s.completed + s.errors + s.timeouts + (s.dropped ?? 0);

export function userSecond(s: LoadSample): UserSecond {
  const good = s.s2xx + s.s3xx;
  return {
    offered: s.offered,
    sent: s.sent,
    dropped: s.dropped ?? 0,
    good,
    s5xx: s.s5xx ?? 0,
    s503: s.s503 ?? null,
    success: known(s) > 0 ? good / known(s) : null,
    p50: s.p50,
    p99: s.p99,
  };
}

/** Container host → [service, kind], the map buildSeries groups readings by. */
export function hostsOf(plan: { containers: Array<{ host: string; service: string; kind: string }> }): Record<string, [string, string]> {
  const hosts: Record<string, [string, string]> = {};
  for (const c of plan.containers) hosts[c.host] = [c.service, c.kind];
  return hosts;
}

/** Service → reading → the user's metric it is read from, for the images that map their own metrics. */
export function mappedOf(plan: {
  containers: Array<{ service: string; metrics?: { map: Record<string, Selector> } }>;
}): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const c of plan.containers)
    if (c.metrics) out[c.service] = Object.fromEntries(Object.entries(c.metrics.map).map(([k, sel]) => [k, selectorText(sel)]));
  return out;
}

/** `plan`: container host → [service, kind]. Component sample t is read at the end of load second t-1. */
export function buildSeries(
  load: LoadSample[],
  components: ComponentsSample[],
  hosts: Record<string, [string, string]>,
  mapped: Record<string, Record<string, string>> = {},
): Series {
  const seconds = load.length;
  const users = load.map(userSecond);
  const kinds: Record<string, string> = {};
  for (const [service, kind] of Object.values(hosts)) kinds[service] = kind;
  const services: Record<string, ServiceSecond[]> = {};
  const gaps: Record<string, number> = {};
  for (const service of Object.keys(kinds)) services[service] = Array.from({ length: seconds }, () => ({}));

  const byT = new Map(components.map((c) => [c.t, c]));
  // Gauges and container figures: the reading at the end of the second.
  const lastSeen = new Map<string, Reading>();
  const first = byT.get(0);
  if (first) for (const [key, r] of Object.entries(first.readings)) lastSeen.set(key, r);
  for (let t = 0; t < seconds; t++) {
    const end = byT.get(t + 1);
    if (!end) continue;
    for (const key in end.readings) {
      const reading = end.readings[key] as Reading;
      const [host, source] = splitKey(key);
      const owner = hosts[host];
      const row = owner ? services[owner[0]]?.[t] : undefined;
      if (row) add(row, source, reading, lastSeen.get(key));
      lastSeen.set(key, reading);
    }
    for (const key of Object.keys(end.missing)) {
      const owner = hosts[splitKey(key)[0]];
      if (owner) gaps[owner[0]] = (gaps[owner[0]] ?? 0) + 1;
    }
  }
  // Counters: rates over the real time between readings, spread over the seconds they span.
  for (const [key, points] of readingsByKey(components)) {
    const [host, source] = splitKey(key);
    const owner = hosts[host];
    const rows = owner ? services[owner[0]] : undefined;
    if (rows) addRates(rows, COUNTERS[source] ?? [], points);
  }
  return { seconds, users, kinds, services, gaps, mapped };
}

interface Point {
  /** seconds since load start */
  at: number;
  r: Reading;
}

/** Each sampler's readings in time order. Records without per-reading times date reading t at t s. */
function readingsByKey(components: ComponentsSample[]): Map<string, Point[]> {
  const out = new Map<string, Point[]>();
  for (const c of [...components].sort((a, b) => a.t - b.t))
    for (const [key, r] of Object.entries(c.readings)) {
      const list = out.get(key) ?? [];
      if (!out.has(key)) out.set(key, list);
      list.push({ at: c.at?.[key] ?? c.t, r });
    }
  return out;
}

/** One replica's counter rates added into its service's seconds. Between two readings a counter
 * is taken to rise evenly; second t (load time [t, t+1)) gets the increase that falls inside it,
 * divided by how much of the second the readings cover. Counted against the last reading seen,
 * not only the previous second's: a component that answers intermittently (a crash-looping app)
 * still shows what it counted. A drop is a restart: the new value is the increase. */
function addRates(rows: ServiceSecond[], counters: string[], points: Point[]): void {
  // flat arrays indexed [second × counter]: this runs for every reading of a 30-minute run
  const n = counters.length;
  const inc = new Float64Array(rows.length * n);
  const seen = new Uint8Array(rows.length * n);
  const covered = new Float64Array(rows.length);
  // each reading's counters read once (NaN: missing or not a number); a reading is used for every
  // second on either side of it
  const values = new Float64Array(points.length * n);
  for (let i = 0; i < points.length; i++) {
    const r = (points[i] as Point).r;
    for (let j = 0; j < n; j++) {
      const v = r[counters[j] as string];
      values[i * n + j] = typeof v === "number" && Number.isFinite(v) ? v : Number.NaN;
    }
  }
  for (let i = 1; i < points.length; i++) {
    const a = (points[i - 1] as Point).at;
    const b = (points[i] as Point).at;
    const span = b - a;
    if (!(span > 0)) continue;
    for (let t = Math.max(0, Math.floor(a)); t < Math.min(rows.length, Math.ceil(b)); t++) {
      const share = (Math.min(b, t + 1) - Math.max(a, t)) / span;
      if (!(share > 0)) continue;
      covered[t] = (covered[t] as number) + share * span;
      for (let j = 0; j < n; j++) {
        const before = values[(i - 1) * n + j] as number;
        const now = values[i * n + j] as number;
        if (Number.isNaN(before) || Number.isNaN(now)) continue;
        inc[t * n + j] = (inc[t * n + j] as number) + (now >= before ? now - before : now) * share;
        seen[t * n + j] = 1;
      }
    }
  }
  const names = counters.map((k) => `${k}_per_s`);
  for (let t = 0; t < rows.length; t++) {
    const c = covered[t] as number;
    if (c <= 0) continue;
    const row = rows[t] as ServiceSecond;
    for (let j = 0; j < n; j++) {
      if (!seen[t * n + j]) continue;
      const name = names[j] as string;
      row[name] = (row[name] ?? 0) + (inc[t * n + j] as number) / c;
    }
  }
}

const splitKeys = new Map<string, [string, string]>();

/** "app-1.metrics" → ["app-1", "metrics"], remembered: a run has a few dozen keys, read every second. */
function splitKey(key: string): [string, string] {
  let hit = splitKeys.get(key);
  if (!hit) {
    const i = key.lastIndexOf(".");
    hit = [key.slice(0, i), key.slice(i + 1)];
    if (splitKeys.size < 10_000) splitKeys.set(key, hit);
  }
  return hit;
}

/** Adds one replica's reading into the service's second: rates for counters, sums for gauges,
 * and container figures as counts (running, oom) and maxima (memory share of the limit). */
function add(row: ServiceSecond, source: string, r: Reading, prev: Reading | undefined): void {
  const counters = COUNTER_SETS[source];
  const container = source === "container";
  for (const k in r) {
    const raw = r[k];
    if (typeof raw !== "number" || !Number.isFinite(raw)) continue;
    if (counters?.has(k)) continue;
    if (container && k === "memory_bytes") {
      const limit = r.memory_limit;
      if (typeof limit === "number" && limit > 0) row.memory_share = Math.max(row.memory_share ?? 0, raw / limit);
      put(row, "memory_bytes", raw);
    } else if (container && k === "oom_killed") {
      // sticky until the next start: count it once, when it appears
      if (raw === 1 && prev?.oom_killed !== 1) put(row, "oom_kills", 1);
    } else if (k !== "memory_limit") put(row, k, raw);
  }
  if (container) put(row, "replicas", 1);
}

function put(row: ServiceSecond, k: string, v: number): void {
  row[k] = (row[k] ?? 0) + v;
}
