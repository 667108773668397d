// Prometheus metrics of the reference app, on a registry of its own (never prom-client's global
// one, so two apps in one process, as in tests, do not collide). In cluster mode each serving
// process keeps its own and the master sums them (cluster.ts).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { SHED_REASONS } from "./admission.js";

/** Latency buckets in seconds: sub-millisecond cache hits up to requests stuck behind timeouts. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Values read when /metrics is scraped; wired by app.ts once the parts exist. */
export interface MetricProbes {
  queueDepth(): number;
  workers(): number;
  workersWithoutCache(): number;
  leakedBytes(): number;
}

export interface AppMetrics {
  registry: Registry;
  probes: MetricProbes;
  /** Item requests answered, by HTTP status code (shed ones included). */
  requests: Counter<"status">;
  /** Item requests holding a slot (being worked on) right now. */
  inFlight: Gauge;
  /** Time item requests spent waiting for a slot (0 for those that got one at once). */
  queueWait: Histogram;
  /** Item requests answered 503 without being worked on, by reason. */
  shed: Counter<"reason">;
  cacheHits: Counter;
  cacheMisses: Counter;
  /** memcached gets and sets that failed or timed out (including "cache marked down"). */
  cacheErrors: Counter;
  /** TCP connections opened to memcached. */
  cacheConnections: Counter;
  /** Database reads attempted: every attempt, retries included. */
  dbQueries: Counter;
  /** Database read attempts that failed: no connection, timeout, query error. */
  dbErrors: Counter;
  /** Retries of a failed database read. */
  retries: Counter;
  /** Retries not made because the retry budget was spent. */
  retryBudgetExhausted: Counter;
  requestDuration: Histogram;
}

export const METRIC_NAMES = [
  "app_requests_total",
  "app_in_flight",
  "app_queue_depth",
  "app_queue_wait_seconds",
  "app_shed_total",
  "app_workers",
  "app_workers_without_cache",
  "app_cache_hits_total",
  "app_cache_misses_total",
  "app_cache_errors_total",
  "app_cache_connections_total",
  "app_db_queries_total",
  "app_db_errors_total",
  "app_retries_total",
  "app_retry_budget_exhausted_total",
  "app_leaked_bytes",
  "app_request_duration_seconds",
] as const;

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): AppMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const probes: MetricProbes = {
    queueDepth: () => 0,
    workers: () => 0,
    workersWithoutCache: () => 0,
    leakedBytes: () => 0,
  };
  const probed = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  probed("app_queue_depth", "Item requests waiting for a slot", () => probes.queueDepth());
  probed("app_workers", "Prefork slots (async model: the maxInFlight cap, 0 = none)", () => probes.workers());
  probed("app_workers_without_cache", "Prefork slots whose cache connection is down or refused", () => probes.workersWithoutCache());
  probed("app_leaked_bytes", "Bytes retained by the configured leak", () => probes.leakedBytes());

  const shed = new Counter({ name: "app_shed_total", help: "Item requests shed with 503, by reason", labelNames: ["reason"], registers });
  for (const reason of SHED_REASONS) shed.inc({ reason }, 0); // every series exists from the start
  return {
    registry,
    probes,
    requests: new Counter({
      name: "app_requests_total",
      help: "Item requests answered, by HTTP status",
      labelNames: ["status"],
      registers,
    }),
    inFlight: new Gauge({ name: "app_in_flight", help: "Item requests holding a slot", registers }),
    queueWait: new Histogram({
      name: "app_queue_wait_seconds",
      help: "Time item requests waited for a slot",
      buckets: DURATION_BUCKETS,
      registers,
    }),
    shed,
    cacheHits: new Counter({ name: "app_cache_hits_total", help: "memcached gets that found the item", registers }),
    cacheMisses: new Counter({
      name: "app_cache_misses_total",
      help: "memcached gets that did not find the item",
      registers,
    }),
    cacheErrors: new Counter({
      name: "app_cache_errors_total",
      help: "memcached operations that failed or timed out",
      registers,
    }),
    cacheConnections: new Counter({
      name: "app_cache_connections_total",
      help: "TCP connections opened to memcached",
      registers,
    }),
    dbQueries: new Counter({ name: "app_db_queries_total", help: "Database read attempts", registers }),
    dbErrors: new Counter({ name: "app_db_errors_total", help: "Database read attempts that failed", registers }),
    retries: new Counter({ name: "app_retries_total", help: "Retries of failed database reads", registers }),
    retryBudgetExhausted: new Counter({
      name: "app_retry_budget_exhausted_total",
      help: "Retries not made because the retry budget was spent",
      registers,
    }),
    requestDuration: new Histogram({
      name: "app_request_duration_seconds",
      help: "Item request duration in seconds, queueing included",
      buckets: DURATION_BUCKETS,
      registers,
    }),
  };
}

/** Metrics only the cluster master has. */
export const RESTART_REASONS = ["crash", "memory_cap"] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

export function createMasterMetrics(registry: Registry, processes: () => number): { restarts: Counter<"reason"> } {
  const registers = [registry];
  const restarts = new Counter({
    name: "app_worker_restarts_total",
    help: "Serving processes replaced by the master, by reason",
    labelNames: ["reason"],
    registers,
  });
  for (const reason of RESTART_REASONS) restarts.inc({ reason }, 0);
  new Gauge({
    name: "app_processes",
    help: "Serving processes alive (cluster mode)",
    registers,
    collect() {
      this.set(processes());
    },
  });
  return { restarts };
}
