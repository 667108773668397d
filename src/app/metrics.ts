// Prometheus metrics of the reference app, on a registry of its own (never prom-client's global
// one, so two apps in one process, as in tests, do not collide).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Latency buckets in seconds: sub-millisecond cache hits up to requests stuck behind timeouts. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface AppMetrics {
  registry: Registry;
  /** Item requests answered, by HTTP status code. */
  requests: Counter<"status">;
  /** Item requests being served right now. */
  inFlight: Gauge;
  cacheHits: Counter;
  cacheMisses: Counter;
  /** memcached gets and sets that failed or timed out (including "cache marked down"). */
  cacheErrors: Counter;
  /** Database reads attempted (each counted once, whatever its outcome). */
  dbQueries: Counter;
  /** Database reads that failed: no connection, timeout, query error. */
  dbErrors: Counter;
  requestDuration: Histogram;
}

export const METRIC_NAMES = [
  "app_requests_total",
  "app_in_flight",
  "app_cache_hits_total",
  "app_cache_misses_total",
  "app_cache_errors_total",
  "app_db_queries_total",
  "app_db_errors_total",
  "app_request_duration_seconds",
] as const;

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): AppMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: "app_requests_total",
      help: "Item requests answered, by HTTP status",
      labelNames: ["status"],
      registers,
    }),
    inFlight: new Gauge({ name: "app_in_flight", help: "Item requests in progress", registers }),
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
    dbQueries: new Counter({ name: "app_db_queries_total", help: "Database reads attempted", registers }),
    dbErrors: new Counter({ name: "app_db_errors_total", help: "Database reads that failed", registers }),
    requestDuration: new Histogram({
      name: "app_request_duration_seconds",
      help: "Item request duration in seconds",
      buckets: DURATION_BUCKETS,
      registers,
    }),
  };
}
