// The reference app's failure mechanics, measured from the outside on real containers: at the
// dependency (memcached's and Postgres's own counters), at the container (docker inspect), and
// at the client (the load driver). The app's /metrics is read only next to an outside figure.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memcachedStats } from "../../src/observe/sources/memcached.js";
import { PostgresReader } from "../../src/observe/sources/postgres.js";
import { scrape, sumOf } from "../../src/observe/sources/prometheus.js";
import type { LoadSummary } from "../../src/load/driver.js";
import { load, setApp, sleep, type Topology, topology, until } from "./topology.js";

const LOAD = "load: { target: app, phases: [{ duration: 1s, rate: 1 }] }";

describe("cache client modes: connection churn at memcached", () => {
  let t: Topology;
  beforeAll(async () => {
    t = await topology(`
name: churn
services:
  app: { kind: app, config: { keys: 20, cacheClient: per-request } }
  cache: { kind: memcached }
  db: { kind: postgres }
links:
  - { from: app, to: cache, proxy: false }
  - { from: app, to: db, proxy: false }
${LOAD}`);
  });
  afterAll(() => t?.down());

  it("connect-per-request opens a memcached connection per request; pooled does not", async () => {
    const app = await t.ep("app");
    const cache = await t.ep("cache");
    const before = await memcachedStats(cache);
    const churn = await load(app, "/", [{ duration: 4000, rate: 50 }]);
    const mid = await memcachedStats(cache);
    const opened = mid.total_connections! - before.total_connections! - 1; // -1: our own stats connection
    expect(churn.totals.s2xx).toBeGreaterThan(190);
    // Every request does a get (and a miss a set), each on a fresh connection.
    expect(opened).toBeGreaterThanOrEqual(churn.totals.s2xx);

    await setApp(app, { cacheClient: "pooled" }, t.runtime.adminToken);
    const pooled = await load(app, "/", [{ duration: 4000, rate: 50 }]);
    const after = await memcachedStats(cache);
    expect(pooled.totals.s2xx).toBeGreaterThan(190);
    expect(after.total_connections! - mid.total_connections! - 1).toBeLessThanOrEqual(10);
    console.log(
      `churn: per-request ${opened} connections for ${churn.totals.completed} requests; pooled ${after.total_connections! - mid.total_connections! - 1} for ${pooled.totals.completed}`,
    );
  });
});

describe("retries against a failing database", () => {
  let t: Topology;
  let pg: PostgresReader;
  beforeAll(async () => {
    // No cache: every request reads the database, where each query sleeps past its timeout.
    t = await topology(`
name: retries
services:
  app: { kind: app, config: { keys: 20, dbQueryLatencyMs: 900, dbQueryTimeoutMs: 300, dbPoolSize: 24, retryAttempts: 3, retryBackoff: none } }
  db: { kind: postgres }
links:
  - { from: app, to: db, proxy: false }
${LOAD}`);
    pg = new PostgresReader(await t.ep("db"), t.runtime.dbPassword);
  });
  afterAll(async () => {
    await pg?.close();
    await t?.down();
  });

  /** Sessions and transactions the database counted while `fn` ran, after its counters caught up
   * (10 s idle flush). */
  async function dbCalls(fn: () => Promise<unknown>): Promise<{ sessions: number; xacts: number; rollbacks: number }> {
    const before = await pg.read();
    await fn();
    await sleep(11_000);
    const after = await pg.read();
    return {
      sessions: (after.sessions ?? 0) - (before.sessions ?? 0),
      xacts: after.xact_commit + after.xact_rollback - before.xact_commit - before.xact_rollback - 2, // our own two reads
      rollbacks: after.xact_rollback - before.xact_rollback,
    };
  }

  it("retryAttempts 3 makes about three database calls per user request; 1 makes one", async () => {
    const app = await t.ep("app");
    // 20 requests/s, each up to 3 attempts × 300 ms: ~18 attempts at once, within the pool of 24,
    // so no attempt spends its deadline waiting for a connection.
    const phases = [{ duration: 4000, rate: 20 }];
    let naive: LoadSummary | undefined;
    const withRetries = await dbCalls(async () => {
      naive = await load(app, "/", phases);
    });
    await setApp(app, { retryAttempts: 1 }, t.runtime.adminToken);
    let single: LoadSummary | undefined;
    const without = await dbCalls(async () => {
      single = await load(app, "/", phases);
    });
    if (!naive || !single) throw new Error("load did not run");
    // Every attempt's statement is cancelled at its 300 ms statement_timeout: Postgres rolls back
    // one transaction per call (pg_stat_database.xact_rollback). All transactions are no measure
    // of calls: the commits of new sessions vary with how often the pool replaced a connection
    // (2.3–2.6 a call without retries, 1.5–1.9 with; their ratio ×2.14–2.55), and so do sessions
    // (2.65–2.70 a request: a statement cancelled by the server keeps its connection).
    const perRequest3 = withRetries.rollbacks / naive.totals.sent;
    const perRequest1 = without.rollbacks / single.totals.sent;
    const m = await scrape(app);
    console.log(
      `retries: ${withRetries.rollbacks} rolled-back calls for ${naive.totals.sent} requests (${perRequest3.toFixed(2)}/request); ` +
        `without: ${without.rollbacks} for ${single.totals.sent} (${perRequest1.toFixed(2)}/request); ` +
        `all transactions ${withRetries.xacts} / ${without.xacts}, sessions ${withRetries.sessions} / ${without.sessions}; ` +
        `app counted ${sumOf(m, "app_db_queries_total")} database calls, ${sumOf(m, "app_retries_total")} retries`,
    );
    expect(naive.totals.s5xx).toBeGreaterThan(0.9 * naive.totals.sent);
    // Attempts have 300 ms (with 100 ms, beside a CPU hog some timed out before they reached
    // Postgres: ×2.21 in a fresh-clone CI run beside a hog). Retries off: one call per request.
    expect(perRequest1).toBeGreaterThan(0.9);
    expect(perRequest1).toBeLessThan(1.1);
    expect(perRequest3).toBeGreaterThan(2.7);
    expect(perRequest3).toBeLessThan(3.1);
    expect(sumOf(m, "app_retries_total")).toBeGreaterThan(1.8 * naive.totals.sent);
  });
});

describe("queueing under overload", () => {
  let t: Topology;
  beforeAll(async () => {
    // 4 requests in flight × 50 ms per query ≈ 80 req/s of capacity; no cache.
    t = await topology(`
name: queues
services:
  app: { kind: app, config: { keys: 20, maxInFlight: 4, dbQueryLatencyMs: 50, dbQueryTimeoutMs: 5000, queueOrder: fifo } }
  db: { kind: postgres }
links:
  - { from: app, to: db, proxy: false }
${LOAD}`);
  });
  afterAll(() => t?.down());

  // 3 s at 2.5× capacity, then 4 s at a quarter of it.
  const spike = [
    { duration: 3000, rate: 200 },
    { duration: 4000, rate: 20 },
  ];
  const p50After = (s: LoadSummary) => {
    const tail = s.samples.slice(3).map((x) => x.p50 ?? 0);
    return Math.max(...tail.slice(0, 2));
  };

  it("an unbounded FIFO queue keeps latency high after the load drops", async () => {
    const app = await t.ep("app");
    const run = await load(app, "/", spike, 15_000);
    const m = await scrape(app);
    const waitSum = sumOf(m, "app_queue_wait_seconds_sum");
    const waited = sumOf(m, "app_queue_wait_seconds_count");
    console.log(
      `fifo: p50 in the 2 s after the spike ${p50After(run)} ms; mean queue wait ${(waitSum / waited).toFixed(2)} s; shed ${run.totals.s5xx}`,
    );
    expect(run.totals.s5xx).toBe(0);
    // Arrivals after the spike wait behind the whole backlog: seconds, not the 50 ms service time.
    expect(p50After(run)).toBeGreaterThan(1000);
    expect(waitSum / waited).toBeGreaterThan(0.5);
  });

  it("a bounded LIFO queue sheds the excess and keeps admitted requests fast", async () => {
    const app = await t.ep("app");
    await sleep(2000);
    await setApp(app, { queueOrder: "lifo", queueLimit: 8 }, t.runtime.adminToken);
    const before = await scrape(app);
    const run = await load(app, "/", spike, 15_000);
    const after = await scrape(app);
    const shed = sumOf(after, "app_shed_total") - (sumOf(before, "app_shed_total") || 0);
    const okSum = sumOf(after, "app_queue_wait_seconds_sum") - sumOf(before, "app_queue_wait_seconds_sum");
    const okN = sumOf(after, "app_queue_wait_seconds_count") - sumOf(before, "app_queue_wait_seconds_count");
    console.log(
      `lifo: p50 after the spike ${p50After(run)} ms; 503 ${run.totals.s5xx}; shed ${shed}; mean queue wait ${(okSum / okN).toFixed(3)} s`,
    );
    // 600 arrivals in the spike against ~240 of capacity.
    expect(run.totals.s5xx).toBeGreaterThan(200);
    expect(shed).toBe(run.totals.s5xx);
    expect(p50After(run)).toBeLessThan(200);
    expect(okSum / okN).toBeLessThan(0.2);
  });
});

describe("memory", () => {
  let t: Topology;
  beforeAll(async () => {
    t = await topology(`
name: memory
services:
  app: { kind: app, memory: 512m, config: { keys: 20, processes: 2, startupLoadMb: 100 } }
  leaky: { kind: app, memory: 128m, config: { keys: 20 } }
  db: { kind: postgres }
links:
  - { from: app, to: db, proxy: false }
  - { from: leaky, to: db, proxy: false }
${LOAD}`);
  });
  afterAll(() => t?.down());

  it("a start-up load past the worker memory cap is a restart loop the master counts", async () => {
    const app = await t.ep("app");
    // Counted from the master's log (docker logs): /metrics may be unreachable mid-loop.
    const restarts = async () => ((await t.runtime.logsTail("app", 1, 2000)).match(/replacing it/g) ?? []).length;
    const before = await restarts();
    // Each worker process loads 100 MB of blobs at start (~150 MB RSS). A cap of 90 MB (a deploy
    // that sized it for the old blobs) makes the master replace them, and every replacement
    // loads the blobs again: a restart loop.
    await setApp(app, { workerMemoryCapMb: 90 }, t.runtime.adminToken);
    const run = await load(app, "/", [{ duration: 6000, rate: 20 }], 2000);
    const after = await until(restarts, (n) => n - before >= 4, 10_000);
    console.log(`restart loop: ${after - before} replacements in ~6 s; success ${run.totals.s2xx}/${run.totals.sent}`);
    expect(after - before).toBeGreaterThanOrEqual(4);
    expect(run.totals.s2xx).toBeLessThan(0.8 * run.totals.sent);
  });

  it("a leak under the container memory limit ends in an OOM kill that docker inspect confirms", async () => {
    const leaky = await t.ep("leaky");
    await setApp(leaky, { leakMbPerMin: 1200 }, t.runtime.adminToken);
    const state = await until(
      () => t.runtime.state("leaky", 1),
      (s) => !s.running,
      30_000,
      500,
    );
    console.log(`leak: container ${state.status}, OOMKilled ${state.oomKilled}, exit ${state.exitCode}`);
    expect(state.running).toBe(false);
    expect(state.oomKilled).toBe(true);
  });
});

describe("1,200 prefork workers against memcached -c 1024", () => {
  let t: Topology;
  beforeAll(async () => {
    t = await topology(`
name: workers
services:
  app: { kind: app, memory: 1g, config: { keys: 20, model: prefork, workers: 1200, cacheClient: per-worker } }
  cache: { kind: memcached, connections: 1024 }
  db: { kind: postgres }
links:
  - { from: app, to: cache, proxy: false }
  - { from: app, to: db, proxy: false }
${LOAD}`);
  }, 180_000);
  afterAll(() => t?.down());

  it("memcached rejects the connections past its limit and a share of workers runs without cache", async () => {
    const app = await t.ep("app");
    const cache = await t.ep("cache");
    // Enough concurrent requests that every worker has used its connection.
    await load(app, "/", [{ duration: 3000, rate: 600 }], 5000, 1500);
    const m = await until(
      () => scrape(app),
      (s) => sumOf(s, "app_workers_without_cache") > 0,
      10_000,
    );
    const without = sumOf(m, "app_workers_without_cache");
    const workers = sumOf(m, "app_workers");
    // memcached refuses our own stats connection too while it is full: stop the app, then read
    // its counters (rejected_connections is cumulative).
    await t.runtime.stop("app", undefined);
    const stats = await until(
      () => memcachedStats(cache),
      () => true,
      10_000,
    );
    console.log(
      `1200 workers: memcached curr ${stats.curr_connections} rejected ${stats.rejected_connections}; without cache ${without}/${workers} (${((100 * without) / workers).toFixed(1)} %)`,
    );
    expect(workers).toBe(1200);
    expect(stats.rejected_connections).toBeGreaterThan(0);
    expect(stats.max_connections ?? 1024).toBe(1024);
    // 1,200 workers, at most ~1,020 slots at memcached: at least 14 % must be without cache.
    expect(without / workers).toBeGreaterThan(0.1);
    expect(without / workers).toBeLessThan(0.3);
  });
});
