// Wiring of one serving process: settings, memory mechanics, slots and queue, cache clients,
// database, background jobs, metrics and the HTTP server. Kept free of process-level concerns (env,
// signals, exit, cluster) so it can also run inside a test.
import type { AddressInfo } from "node:net";
import { patchSettings } from "./admin.js";
import { Admission, type SlotSource } from "./admission.js";
import { CacheClients } from "./cache-clients.js";
import { type AppConfig, type AppSettings, rowsFor, settingsOf } from "./config.js";
import { Database, type DatabaseDriver, postgresDriver } from "./db.js";
import { isMysqlUrl, mariadbDriver } from "./mariadb.js";
import { ItemService } from "./items.js";
import { BackgroundJobs } from "./jobs.js";
import { Ballast, Leak, MemoryShedder, memoryLimit, startupLoad } from "./memory.js";
import { type AppMetrics, createMasterMetrics, createMetrics } from "./metrics.js";
import type { RetryPolicy } from "./retry.js";
import { createAppServer } from "./server.js";
import { LiveSettings, changed } from "./settings.js";
import { errorMessage, sleep } from "./timeout.js";
import { InFlightCap, PreforkSlots, type Slot } from "./workers.js";

export interface RunningApp {
  port: number;
  metrics: AppMetrics;
  /** The settings in force; `replace` applies a change (what POST /admin/config does). */
  live: LiveSettings;
  /** Settles when start-up database work is over: resolves once the table is ready, rejects if it
   * never got ready within dbInitTimeoutMs. Never settles when no database is configured. */
  dbInit: Promise<void>;
  /** Stops accepting requests, lets the ones in progress finish (bounded), closes the clients. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: (line: string) => void;
  defaultMetrics?: boolean;
  /** How POST /admin/config is applied; by default validated and applied here. A cluster child
   * forwards it to the master, which applies it to every process. */
  applySettings?: (raw: unknown, live: LiveSettings) => Promise<AppSettings>;
  /** /metrics answer; by default this process's registry. */
  metricsText?: () => Promise<{ contentType: string; body: string }>;
  /** Resident bytes counted against the memory limit for shedding; by default this process's. */
  rss?: () => number;
  /** Whether this process is the only one (no cluster): then it also exports the restart counter
   * and app_processes, always 0 restarts and 1 process. */
  standalone?: boolean;
}

export function retryPolicy(s: AppSettings): RetryPolicy {
  return {
    attempts: s.retryAttempts,
    backoff: s.retryBackoff,
    baseMs: s.retryBaseMs,
    maxMs: s.retryMaxMs,
    jitter: s.retryJitter,
    budget: s.retryBudget,
  };
}

export async function startApp(config: AppConfig, opts: StartOptions = {}): Promise<RunningApp> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const live = new LiveSettings(settingsOf(config));
  const s0 = live.current;
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics });
  if (opts.standalone) createMasterMetrics(metrics.registry, () => 1);

  // The start-up load is there before the process accepts anything, as data loaded by a worker
  // at boot would be. A live change loads (or drops) the difference in the running process.
  const ballast = new Ballast();
  let loadTarget = s0.startupLoadMb;
  const load = async (mb: number): Promise<void> => {
    loadTarget = mb;
    const t = performance.now();
    await startupLoad(ballast, mb, live.current.startupLoadMs, () => loadTarget === mb);
    if (mb > 0 && loadTarget === mb) log(`cascade-app: start-up load of ${mb} MiB in place after ${Math.round(performance.now() - t)} ms`);
  };
  if (s0.startupLoadMb > 0) await load(s0.startupLoadMb);
  const leak = new Leak(() => live.current.leakMbPerMin);
  leak.start();

  let prefork: PreforkSlots | undefined;
  const caches = config.cacheAddr
    ? new CacheClients({
        addr: config.cacheAddr,
        kind: config.cacheKind,
        live,
        slots: () => prefork?.slots ?? [],
        log,
        onConnection: () => metrics.cacheConnections.inc(),
      })
    : undefined;
  let source: SlotSource<Slot>;
  let inFlightCap: InFlightCap | undefined;
  if (s0.model === "prefork") {
    prefork = new PreforkSlots(s0.workers, {
      added: (slot) => caches?.slotAdded(slot),
      removed: (slot) => caches?.slotRemoved(slot),
    });
    source = prefork;
  } else {
    inFlightCap = new InFlightCap(() => live.current.maxInFlight);
    source = inFlightCap;
  }
  void caches?.connect();
  const admission = new Admission<Slot>(source, () => {
    const s = live.current;
    return { order: s.queueOrder, limit: s.queueLimit, deadlineMs: s.queueDeadlineMs };
  });

  const url = config.databaseUrl;
  const db = url
    ? new Database((isMysqlUrl(url) ? mariadbDriver(url) : postgresDriver(url)) as DatabaseDriver<unknown>, {
        get poolSize() {
          return live.current.dbPoolSize;
        },
        get queryTimeoutMs() {
          return live.current.dbQueryTimeoutMs;
        },
        get queryCost() {
          return rowsFor(live.current.dbQueryCpuMs, config.dbRowsPerCpuMs);
        },
        get queryLatencyMs() {
          return live.current.dbQueryLatencyMs;
        },
        log,
      })
    : undefined;

  let dbReady = false;
  const dbInit = db
    ? db
        .init(config.keys, config.dbInitTimeoutMs)
        .then(() => db.warm())
        .then(() => {
          dbReady = true;
        })
    : new Promise<void>(() => {});
  dbInit.catch(() => {}); // the caller decides what a failed start-up means

  const limit = memoryLimit();
  const shedder = new MemoryShedder(() => live.current.shedMemoryFraction, opts.rss ?? (() => process.memoryUsage.rss()), limit.bytes);
  shedder.start();

  const jobs = new BackgroundJobs(() => live.current, log);

  live.onChange((next, prev) => {
    if (prefork && next.workers !== prev.workers) prefork.resize(next.workers);
    if (changed(next, prev, "workers", "maxInFlight")) admission.pump();
    if (changed(next, prev, "dbPoolSize", "dbQueryTimeoutMs")) db?.reconfigure();
    if (next.jobsIntervalMs !== prev.jobsIntervalMs) jobs.schedule();
    if (next.startupLoadMb !== prev.startupLoadMb) void load(next.startupLoadMb);
  });

  metrics.probes.queueDepth = () => admission.queueLength;
  metrics.probes.workers = () => prefork?.size ?? live.current.maxInFlight;
  metrics.probes.workersWithoutCache = () => (prefork && caches ? caches.withoutCache() : 0);
  metrics.probes.leakedBytes = () => leak.ballast.bytes;

  const items = new ItemService({
    db,
    metrics,
    cacheTtlS: () => live.current.cacheTtlS,
    retry: () => retryPolicy(live.current),
  });
  const applySettings = opts.applySettings;
  const server = createAppServer({
    items,
    metrics,
    keys: config.keys,
    dbReady: () => dbReady,
    admission,
    cacheFor: (slot) => caches?.cacheFor(slot),
    memoryShedding: () => shedder.shedding,
    admin: {
      ...(process.env.CASCADE_ADMIN_TOKEN ? { token: process.env.CASCADE_ADMIN_TOKEN } : {}),
      current: () => live.current,
      apply: applySettings
        ? (raw) => applySettings(raw, live)
        : async (raw) => {
            live.replace(patchSettings(live.current, raw, config.dbRowsPerCpuMs));
            return live.current;
          },
    },
    metricsText: opts.metricsText,
    log,
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  jobs.schedule();
  log(describe(s0, limit.bytes, limit.source, config.cacheAddr !== undefined ? config.cacheKind : undefined));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      jobs.stop();
      leak.stop();
      shedder.stop();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Node 18's close() leaves kept-alive idle connections open: close those now, and any still
      // busy once requests in progress had time to finish (every dependency call is bounded).
      server.closeIdleConnections();
      const s = live.current;
      const grace = s.cacheTimeoutMs + s.dbQueryTimeoutMs + 500;
      await Promise.race([stopped, sleep(grace)]);
      server.closeAllConnections();
      await stopped;
      await Promise.all([caches?.close(), db?.close().catch((e: unknown) => log(`closing the database: ${errorMessage(e)}`))]);
    })();
    return closing;
  };

  return { port, metrics, live, dbInit, close };
}

/** The start-up log line saying which mechanics are on. */
function describe(s: AppSettings, limitBytes: number, limitSource: string, cache: string | undefined): string {
  const parts = [
    s.model === "prefork" ? `prefork ${s.workers} workers` : `async${s.maxInFlight > 0 ? ` maxInFlight ${s.maxInFlight}` : ""}`,
  ];
  if (cache) {
    const kind = s.cacheClient === "per-worker" && s.model !== "prefork" ? "pooled (per-worker needs prefork)" : s.cacheClient;
    parts.push(`${cache} ${kind}${kind.startsWith("pooled") ? ` x${s.cachePoolSize}` : ""}`);
  }
  if (s.retryAttempts > 1) parts.push(`retries ${s.retryAttempts - 1} ${s.retryBackoff}`);
  if (s.queueLimit !== null || s.queueOrder !== "fifo" || s.queueDeadlineMs > 0) {
    parts.push(`queue ${s.queueOrder} limit ${s.queueLimit ?? "none"} deadline ${s.queueDeadlineMs} ms`);
  }
  if (s.shedMemoryFraction > 0) parts.push(`shed at ${s.shedMemoryFraction} of ${Math.round(limitBytes / 2 ** 20)} MiB (${limitSource})`);
  if (s.leakMbPerMin > 0) parts.push(`leak ${s.leakMbPerMin} MiB/min`);
  if (s.jobsIntervalMs > 0) parts.push(`jobs every ${s.jobsIntervalMs} ms${s.jobsThrow ? " (throwing)" : ""}`);
  return `cascade-app: ${parts.join(", ")}`;
}
