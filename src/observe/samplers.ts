// The Sampler seam: one reader per component, each returning flat numbers for one instant.
// Counters are kept raw (the analysis takes differences); gauges as read. A new component to
// watch is a new Sampler here, nothing else changes.
import type { Runtime } from "../runtime/types.js";
import { HAPROXY_STATS_PORT, type TopologyPlan } from "../topology/plan.js";
import { readCgroup, readProcs } from "./sources/cgroup.js";
import { haproxyStats } from "./sources/haproxy.js";
import { MemcachedReader } from "./sources/memcached.js";
import { MariadbReader } from "./sources/mariadb.js";
import { PostgresReader } from "./sources/postgres.js";
import { RedisReader } from "./sources/redis.js";
import { REDIS_KEYS } from "../types/redis-info.js";
import { type Selector, scrape, type Series, select, sumOf } from "./sources/prometheus.js";

export type Reading = Record<string, number | string>;

export interface Sampler {
  /** e.g. "cache-1" (the component) and what kind of reading it makes */
  name: string;
  source: "container" | "memcached" | "redis" | "postgres" | "mariadb" | "haproxy" | "metrics";
  read(): Promise<Reading>;
  /** Called as soon as the component is up, before the services that use it start: a reader that
   * must hold its connection before others fill the component's connection table takes it here. */
  open?(): Promise<void>;
  close?(): Promise<void>;
}

const MEMCACHED_KEYS = [
  "curr_connections",
  "total_connections",
  "rejected_connections",
  "listen_disabled_num",
  "cmd_get",
  "get_hits",
  "get_misses",
  "curr_items",
] as const;

/** Series of the reference app (and any app using these names) worth a time series. */
const APP_SERIES: Array<[string, string, Record<string, string>?]> = [
  ["requests", "app_requests_total"],
  ["requests_5xx", "app_requests_total", { status: "503" }],
  ["in_flight", "app_in_flight"],
  ["queue_depth", "app_queue_depth"],
  ["queue_wait_sum", "app_queue_wait_seconds_sum"],
  ["queue_wait_count", "app_queue_wait_seconds_count"],
  ["retries", "app_retries_total"],
  ["cache_hits", "app_cache_hits_total"],
  ["cache_misses", "app_cache_misses_total"],
  ["cache_errors", "app_cache_errors_total"],
  ["cache_connections", "app_cache_connections_total"],
  ["workers", "app_workers"],
  ["workers_without_cache", "app_workers_without_cache"],
  ["db_queries", "app_db_queries_total"],
  ["db_errors", "app_db_errors_total"],
  ["shed", "app_shed_total"],
  ["worker_restarts", "app_worker_restarts_total"],
  ["leaked_bytes", "app_leaked_bytes"],
  ["rss_bytes", "process_resident_memory_bytes"],
];

export function appReading(m: Series): Reading {
  const out: Reading = {};
  for (const [key, name, labels] of APP_SERIES) {
    const v = sumOf(m, name, labels);
    if (!Number.isNaN(v)) out[key] = v;
  }
  return out;
}

/** A user image's readings: each of its metrics mapped (its scenario's `metrics:`) onto the reading
 * the charts and mechanisms know, summed over the series its selector matches; one matching
 * nothing on this page is left out, as the app's absent series are. */
export function mappedReading(m: Series, map: Record<string, Selector>): Reading {
  const out: Reading = {};
  for (const [key, sel] of Object.entries(map)) {
    const v = select(m, sel);
    if (!Number.isNaN(v)) out[key] = v;
  }
  return out;
}

export function samplersFor(plan: TopologyPlan, runtime: Runtime): Sampler[] {
  const out: Sampler[] = [];
  for (const c of plan.containers) {
    const { service, replica, host } = c;
    // Published ports change when a container restarts: resolve again after a failure.
    const endpointOf = (port: number) => {
      let ep: ReturnType<Runtime["endpoint"]> | undefined;
      return async <T>(use: (e: Awaited<ReturnType<Runtime["endpoint"]>>) => Promise<T>): Promise<T> => {
        ep ??= runtime.endpoint(service, replica, port);
        try {
          return await use(await ep);
        } catch (e) {
          ep = undefined;
          throw e;
        }
      };
    };

    let last: { cpu_ns: number; at: number } | undefined;
    // Processes seen in the container; new ones are counted (a cumulative counter, like restarts).
    let seen: Set<number> | undefined;
    let started = 0;
    out.push({
      name: host,
      source: "container",
      async read() {
        const st = await runtime.state(service, replica);
        const r: Reading = { running: st.running ? 1 : 0, restarts: st.restartCount, oom_killed: st.oomKilled ? 1 : 0 };
        const cg = st.running ? readCgroup(st.id) : undefined;
        if (cg) {
          const now = performance.now();
          if (last && cg.cpu_ns >= last.cpu_ns) r.cpu_cores = (cg.cpu_ns - last.cpu_ns) / 1e6 / (now - last.at);
          last = { cpu_ns: cg.cpu_ns, at: now };
          r.memory_bytes = cg.memory_bytes;
          const procs = readProcs(st.id);
          if (procs) {
            if (seen) started += procs.filter((p) => !seen?.has(p)).length;
            seen = new Set(procs);
            r.procs = procs.length;
            r.procs_started = started;
          }
          if (cg.memory_limit !== undefined) r.memory_limit = cg.memory_limit;
          if (cg.cpu_limit !== undefined) r.cpu_limit = cg.cpu_limit;
        } else last = undefined;
        return r;
      },
    });

    if (c.kind === "memcached") {
      // Published ports change when a container restarts: the endpoint is resolved again on reconnect.
      const reader = new MemcachedReader(() => runtime.endpoint(service, replica, c.port), 800);
      out.push({
        name: host,
        source: "memcached",
        async read() {
          const s = await reader.read();
          return Object.fromEntries(MEMCACHED_KEYS.filter((k) => s[k] !== undefined).map((k) => [k, s[k] as number]));
        },
        open: () => reader.open(),
        close: () => reader.close(),
      });
    } else if (c.kind === "redis") {
      const reader = new RedisReader(() => runtime.endpoint(service, replica, c.port), 800);
      out.push({
        name: host,
        source: "redis",
        async read() {
          const s = await reader.read();
          return Object.fromEntries(REDIS_KEYS.filter((k) => s[k] !== undefined).map((k) => [k, s[k] as number]));
        },
        open: () => reader.open(),
        close: () => reader.close(),
      });
    } else if (c.kind === "postgres") {
      const at = endpointOf(c.port);
      let reader: PostgresReader | undefined;
      out.push({
        name: host,
        source: "postgres",
        async read() {
          return at(async (ep) => {
            reader ??= new PostgresReader(ep, runtime.dbPassword, 800);
            try {
              return { ...(await reader.read()) };
            } catch (e) {
              await reader.close();
              reader = undefined;
              throw e;
            }
          });
        },
        close: async () => reader?.close(),
      });
    } else if (c.kind === "mariadb") {
      // Opened when the server is ready, before the app can fill max_connections.
      const reader = new MariadbReader(() => runtime.endpoint(service, replica, c.port), runtime.dbPassword, 800);
      out.push({
        name: host,
        source: "mariadb",
        read: async () => ({ ...(await reader.read()) }),
        open: () => reader.open(),
        close: () => reader.close(),
      });
    } else if (c.kind === "haproxy") {
      const at = endpointOf(HAPROXY_STATS_PORT);
      out.push({
        name: host,
        source: "haproxy",
        async read() {
          const rows = await at((ep) => haproxyStats(ep, 800));
          const r: Reading = {};
          const be = rows.find((x) => x.server === "BACKEND");
          if (be)
            Object.assign(r, {
              queue: be.qcur,
              sessions: be.scur,
              hrsp_5xx: be.hrsp_5xx,
              econ: be.econ,
              eresp: be.eresp,
              retries: be.wretr,
              redispatches: be.wredis,
            });
          const fe = rows.find((x) => x.server === "FRONTEND" && x.proxy !== "stats");
          if (fe) r.requests = fe.req_tot;
          const servers = rows.filter((x) => x.server !== "BACKEND" && x.server !== "FRONTEND" && x.proxy !== "stats");
          r.servers_up = servers.filter((x) => x.status.startsWith("UP")).length;
          r.servers = servers.length;
          // every attempt sent to a server, retries included: what the layer below received
          r.server_sessions = servers.reduce((a, x) => a + x.stot, 0);
          return r;
        },
      });
    } else if (c.kind === "app") {
      const at = endpointOf(c.port);
      out.push({ name: host, source: "metrics", read: async () => appReading(await at((ep) => scrape(ep, "/metrics", 800))) });
    } else if (c.kind === "image" && c.metrics) {
      const { path, port, map } = c.metrics;
      const at = endpointOf(port);
      out.push({ name: host, source: "metrics", read: async () => mappedReading(await at((ep) => scrape(ep, path, 800)), map) });
    }
  }
  return out;
}
