// Mechanism attribution: each mechanism gets a score in [0, 1] and the numbers behind it, from
// the impact window (fault start → end of the run) against the baseline. A score of 0.5 or more
// is a finding; under 0.2 the mechanism is absent; between, it is a contributing sign.
import type { Series, ServiceSecond } from "./series.js";

export type MechanismName = "retries" | "queuing" | "load-shift" | "connection-churn" | "restarts";

export interface Mechanism {
  name: MechanismName;
  score: number;
  /** the figures that support (or fail to support) it, named for a report */
  numbers: Record<string, number | string | null>;
  /** one sentence, for people */
  finding: string;
}

export interface Backpressure {
  /** share of requests the services refused on purpose (shed, 503 before doing work) */
  shed_share: number | null;
  /** did admitted requests keep succeeding (success among requests that were not shed ≥ 90 %)? */
  held: boolean | null;
  admitted_success: number | null;
}

export interface Span {
  from: number;
  to: number;
}

const clamp01 = (x: number) => Math.max(0, Math.min(1, x));
const round = (x: number | null, d = 2) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** Sum of a key over a span for every service of a kind; null when no second had it. */
/** Every value of `key` in a span, over all services of a kind (replicas already summed). */
function valuesOf(s: Series, kind: string, key: string, span: Span): number[] {
  const out: number[] = [];
  for (const [svc, k] of Object.entries(s.kinds)) {
    if (k !== kind) continue;
    for (const row of (s.services[svc] ?? []).slice(span.from, span.to)) if (row[key] !== undefined) out.push(row[key] as number);
  }
  return out;
}

/** Sum, mean and maximum of a key over a span; null when no second had it. */
function total(s: Series, kind: string, key: string, span: Span): number | null {
  const xs = valuesOf(s, kind, key, span);
  return xs.length ? xs.reduce((a, b) => a + b, 0) : null;
}

function mean(s: Series, kind: string, key: string, span: Span): number | null {
  const sum = total(s, kind, key, span);
  return sum === null ? null : sum / valuesOf(s, kind, key, span).length;
}

function max(s: Series, kind: string, key: string, span: Span): number | null {
  const xs = valuesOf(s, kind, key, span);
  return xs.length ? Math.max(...xs) : null;
}

const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

export function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** The worst median latency users saw for 3 seconds running in a span: a short episode shows
 * whole, where the span's median would dilute it with the quiet seconds around it. */
export function sustainedP50(s: Series, span: Span): number | null {
  let worst: number | null = null;
  for (let t = span.from; t < span.to; t++) {
    const m = median(s.users.slice(t, Math.min(span.to, t + 3)).flatMap((u) => (u.p50 === null ? [] : [u.p50])));
    if (m !== null && (worst === null || m > worst)) worst = m;
  }
  return worst;
}

export const userP50 = (s: Series, span: Span) => median(s.users.slice(span.from, span.to).flatMap((u) => (u.p50 === null ? [] : [u.p50])));

/** Database CPU as a share of its limit (1 = saturated), when a limit is declared. */
export function dbSaturation(s: Series, span: Span, cpuLimits: Record<string, number>): number | null {
  let worst: number | null = null;
  for (const [svc, k] of Object.entries(s.kinds)) {
    const limit = cpuLimits[svc];
    if (k !== "postgres" || !limit) continue;
    const rows = (s.services[svc] ?? [])
      .slice(span.from, span.to)
      .map((r) => r.cpu_cores)
      .filter((v): v is number => v !== undefined);
    if (rows.length) worst = Math.max(worst ?? 0, (median(rows) as number) / limit);
  }
  return worst;
}

export function mechanisms(s: Series, base: Span, impact: Span, cpuLimits: Record<string, number>): Mechanism[] {
  const out: Mechanism[] = [];

  // Retries: dependency calls per logical call, from the app's own counters (attempts vs retries).
  const calls = total(s, "app", "db_queries_per_s", impact);
  const retries = total(s, "app", "retries_per_s", impact);
  const baseCalls = total(s, "app", "db_queries_per_s", base);
  const baseRetries = total(s, "app", "retries_per_s", base);
  const amp = calls !== null && retries !== null && calls - retries > 0 ? calls / (calls - retries) : null;
  const baseAmp = baseCalls !== null && baseRetries !== null && baseCalls - baseRetries > 0 ? baseCalls / (baseCalls - baseRetries) : 1;
  out.push({
    name: "retries",
    score: amp === null ? 0 : (round(clamp01((amp - Math.max(1, baseAmp ?? 1)) / 1.5), 2) ?? 0),
    numbers: { amplification: round(amp), baseline_amplification: round(baseAmp), retries, dependency_calls: calls },
    finding:
      amp === null
        ? "no retry counters in the app's metrics"
        : `each database call was attempted ${amp.toFixed(2)}× (baseline ${(baseAmp ?? 1).toFixed(2)}×): ${retries} retries`,
  });

  // Queuing: latency far above the service time, with a queue that holds the requests.
  const p50b = userP50(s, base);
  const p50i = sustainedP50(s, impact);
  const latRatio = ratio(p50i, p50b);
  const queue = Math.max(max(s, "app", "queue_depth", impact) ?? 0, max(s, "haproxy", "queue", impact) ?? 0);
  const waitSum = total(s, "app", "queue_wait_sum_per_s", impact);
  const waitN = total(s, "app", "queue_wait_count_per_s", impact);
  const meanWait = ratio(waitSum, waitN);
  const latScore = latRatio === null ? 0 : clamp01(Math.log10(Math.max(1, latRatio)) / 2);
  const queueScore = queue >= 10 || (meanWait ?? 0) >= 0.25 ? 1 : queue > 0 ? 0.5 : 0;
  out.push({
    name: "queuing",
    // Without a visible queue (it may sit in a connection pool the app does not export), latency
    // far above the baseline is still the queuing signature, weighed a little lower.
    score: round(queueScore > 0 ? Math.max(latScore, 0.6 * queueScore) : latScore * 0.8) ?? 0,
    numbers: {
      p50_ms: round(p50i, 1),
      baseline_p50_ms: round(p50b, 1),
      latency_ratio: round(latRatio, 1),
      max_queue: queue,
      mean_queue_wait_s: round(meanWait, 3),
    },
    finding:
      latRatio === null
        ? "no latency in one of the windows"
        : `median latency ${round(p50i, 0)} ms against ${round(p50b, 1)} ms before (×${round(latRatio, 0)}); deepest queue ${queue}`,
  });

  // Load shift: the database carries what the cache no longer absorbs.
  // The app's own count is immediate; Postgres publishes its transaction counters late (≥ 1 s).
  const fromApp = total(s, "app", "db_queries_per_s", base) !== null;
  const dbBase = fromApp ? mean(s, "app", "db_queries_per_s", base) : mean(s, "postgres", "xact_commit_per_s", base);
  const dbImpact = fromApp ? mean(s, "app", "db_queries_per_s", impact) : mean(s, "postgres", "xact_commit_per_s", impact);
  const multiple = ratio(dbImpact, Math.max(dbBase ?? 0, 1));
  const hitsB = total(s, "app", "cache_hits_per_s", base);
  const missB = total(s, "app", "cache_misses_per_s", base);
  const hitsI = total(s, "app", "cache_hits_per_s", impact);
  const missI = total(s, "app", "cache_misses_per_s", impact);
  const errI = total(s, "app", "cache_errors_per_s", impact);
  const hitB = ratio(hitsB, (hitsB ?? 0) + (missB ?? 0));
  const hitI = ratio(hitsI, (hitsI ?? 0) + (missI ?? 0) + (errI ?? 0));
  const sat = dbSaturation(s, impact, cpuLimits);
  out.push({
    name: "load-shift",
    score: round(clamp01(((multiple ?? 1) - 1) / 4) * 0.7 + (sat !== null && sat >= 0.9 ? 0.3 : 0)) ?? 0,
    numbers: {
      db_load_multiple: round(multiple, 1),
      db_per_s: round(dbImpact, 1),
      baseline_db_per_s: round(dbBase, 1),
      cache_hit_ratio: round(hitI),
      baseline_cache_hit_ratio: round(hitB),
      db_cpu_share_of_limit: round(sat),
    },
    finding:
      multiple === null
        ? "no database load figures"
        : `the database took ${round(multiple, 1)}× its baseline load${sat !== null ? ` at ${Math.round(sat * 100)} % of its CPU limit` : ""}; cache hit ratio ${hitB === null ? "-" : `${Math.round(hitB * 100)} %`} → ${hitI === null ? "-" : `${Math.round(hitI * 100)} %`}`,
  });

  // Connection churn: new connections per request as the cache itself counts them (connections
  // it accepted), above the baseline's, and connections it refused. Attempts at a dead cache are
  // not churn at the cache; the app's own counter stands in only when no memcached is watched.
  const watched = Object.values(s.kinds).includes("memcached");
  const connKind = watched ? "memcached" : "app";
  const connKey = watched ? "total_connections_per_s" : "cache_connections_per_s";
  const newConns = total(s, connKind, connKey, impact);
  const baseConns = total(s, connKind, connKey, base);
  const rejected = total(s, "memcached", "rejected_connections_per_s", impact);
  const sentIn = (span: Span) => s.users.slice(span.from, span.to).reduce((a, u) => a + u.sent, 0);
  const perReq = ratio(newConns, sentIn(impact));
  const basePerReq = ratio(baseConns, sentIn(base)) ?? 0;
  out.push({
    name: "connection-churn",
    score: round(Math.max(clamp01(((perReq ?? 0) - basePerReq) / 0.5), (rejected ?? 0) > 0 ? 0.7 : 0)) ?? 0,
    numbers: {
      new_connections_per_request: round(perReq),
      baseline_new_connections_per_request: round(basePerReq),
      new_connections: newConns,
      rejected_connections: rejected,
    },
    finding:
      newConns === null
        ? "no cache connection counters"
        : `${newConns} new cache connections for ${sentIn(impact)} requests (${round(perReq) ?? "-"} per request, baseline ${round(basePerReq)}); ${rejected ?? 0} rejected`,
  });

  // Crash synchrony and restart loops: restarts by the platform and by the app's master, OOM kills.
  const containerRestarts = Object.keys(s.kinds).reduce((a, svc) => a + sum(s.services[svc], "restarts_per_s", impact), 0);
  const workerRestarts = total(s, "app", "worker_restarts_per_s", impact) ?? 0;
  const ooms = Object.keys(s.kinds).reduce((a, svc) => a + sum(s.services[svc], "oom_kills", impact), 0);
  const allDown = Object.entries(s.kinds).filter(
    ([svc, k]) =>
      k === "app" && (s.services[svc] ?? []).slice(impact.from, impact.to).some((r) => r.running === 0 && (r.replicas ?? 0) > 0),
  );
  // From the outside: processes started in app containers (their cgroups), for when the app's own
  // counter cannot be read — a master replacing workers may have none to answer its /metrics.
  const processStarts = Object.entries(s.kinds)
    .filter(([, k]) => k === "app" || k === "image")
    .reduce((a, [svc]) => a + sum(s.services[svc], "procs_started_per_s", impact), 0);
  const restarts = Math.max(containerRestarts + workerRestarts, processStarts);
  out.push({
    name: "restarts",
    score: restarts >= 3 || allDown.length > 0 || ooms >= 2 ? 1 : restarts > 0 || ooms > 0 ? 0.4 : 0,
    numbers: {
      container_restarts: containerRestarts,
      worker_restarts: workerRestarts,
      process_starts: processStarts,
      oom_kills: ooms,
      services_with_no_replica_up: allDown.map(([svc]) => svc).join(", ") || null,
    },
    finding: `${containerRestarts} container restarts, ${workerRestarts} worker replacements (the app's counter), ${processStarts} processes started in app containers (cgroups), ${ooms} OOM kills${allDown.length ? `; no replica of ${allDown.map(([x]) => x).join(", ")} was up at some point` : ""}`,
  });
  return out;
}

function sum(rows: ServiceSecond[] | undefined, key: string, span: Span): number {
  return (rows ?? []).slice(span.from, span.to).reduce((a, r) => a + (r[key] ?? 0), 0);
}

export function backpressure(s: Series, impact: Span): Backpressure {
  const shed = total(s, "app", "shed_per_s", impact);
  const requests = total(s, "app", "requests_per_s", impact);
  const share = ratio(shed, requests);
  const users = s.users.slice(impact.from, impact.to);
  const good = users.reduce((a, u) => a + u.good, 0);
  const admitted = (requests ?? 0) - (shed ?? 0);
  const admittedSuccess = shed !== null && admitted > 0 ? Math.min(1, good / admitted) : null;
  return {
    shed_share: round(share, 3),
    held: share === null || share < 0.01 ? null : (admittedSuccess ?? 0) >= 0.9,
    admitted_success: round(admittedSuccess, 3),
  };
}
