// Reference app: the failure mechanics and mitigations switched on by settings — validation, queue
// order/limit/deadline, prefork slots, retry schedule and budget, memory, jobs, cache clients
// against tiny fake memcached servers, the admin API in-process, and cluster mode from the bundle.
import { afterAll, beforeAll, describe, expect, it, onTestFailed, vi } from "vitest";
import { patchSettings } from "../../src/app/admin.js";
import { Admission, type QueuePolicy, type SlotSource } from "../../src/app/admission.js";
import { type RunningApp, startApp } from "../../src/app/app.js";
import { CacheClients, PerRequestCache, PooledCache } from "../../src/app/cache-clients.js";
import { MemcachedCache } from "../../src/app/cache.js";
import { procRss } from "../../src/app/cluster.js";
import { DEFAULT_SETTINGS, RESTART_ONLY_SETTINGS, loadConfig, parseSettings } from "../../src/app/config.js";
import type { Database } from "../../src/app/db.js";
import { itemQuery } from "../../src/app/db.js";
import { ItemService } from "../../src/app/items.js";
import { BackgroundJobs, JobsCrash } from "../../src/app/jobs.js";
import { Ballast, Leak, MemoryShedder, memoryLimit, startupLoad } from "../../src/app/memory.js";
import { METRIC_NAMES, createMetrics } from "../../src/app/metrics.js";
import { RetryBudget, type RetryPolicy, retryDelayMs, withRetries } from "../../src/app/retry.js";
import { LiveSettings } from "../../src/app/settings.js";
import { InFlightCap, PreforkSlots, type Slot } from "../../src/app/workers.js";
import { AppBundle } from "../support/app-child.js";
import { fakeMemcached } from "../support/fake-memcached.js";

/** The admin API takes JSON only (a cross-origin form or text/plain POST is refused). */
const JSON_BODY = { "content-type": "application/json" };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 100 ms until it holds; throws after `ms`. */
async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(100);
  }
}

describe("settings", () => {
  it("defaults every mechanic to off / the contract's values", () => {
    const s = parseSettings(undefined);
    expect(s).toMatchObject({
      model: "async",
      workers: 8,
      maxInFlight: 0,
      processes: 0,
      cacheClient: "pooled",
      cachePoolSize: 4,
      retryAttempts: 1,
      retryBackoff: "none",
      retryBaseMs: 50,
      retryMaxMs: 2000,
      retryJitter: false,
      retryBudget: 0,
      queueOrder: "fifo",
      queueLimit: null,
      queueDeadlineMs: 0,
      shedMemoryFraction: 0,
      restartDelayMs: 100,
      jobsThrow: false,
      dbQueryLatencyMs: 0,
    });
  });

  it("checks enums, booleans, null and bounds, naming the key", () => {
    expect(parseSettings('{"model":"prefork","workers":1200,"queueLimit":null,"retryJitter":true}')).toMatchObject({
      model: "prefork",
      workers: 1200,
      queueLimit: null,
      retryJitter: true,
    });
    expect(() => parseSettings('{"model":"threads"}')).toThrow(/"model" must be one of "async", "prefork"/);
    expect(() => parseSettings('{"workers":2001}')).toThrow(/"workers" must be <= 2000/);
    expect(() => parseSettings('{"retryJitter":1}')).toThrow(/"retryJitter" must be true or false/);
    expect(() => parseSettings('{"queueLimit":-1}')).toThrow(/"queueLimit" must be >= 0/);
    expect(() => parseSettings('{"queueLimit":"10"}')).toThrow(/"queueLimit" must be a number or null/);
    expect(() => parseSettings('{"keys":null}')).toThrow(/"keys" must be a number, got null/);
    expect(() => parseSettings('{"shedMemoryFraction":1.5}')).toThrow(/<= 1/);
    expect(() => parseSettings('{"cacheClient":"per-thread"}')).toThrow(/"cacheClient"/);
  });

  it("merges a live change, refusing to change a restart-only setting but accepting its current value", () => {
    const current = parseSettings('{"model":"prefork"}');
    expect(patchSettings(current, { retryAttempts: 3, queueOrder: "lifo", model: "prefork" })).toMatchObject({
      model: "prefork",
      retryAttempts: 3,
      queueOrder: "lifo",
    });
    for (const key of RESTART_ONLY_SETTINGS) {
      const other = key === "model" ? "async" : (current[key] as number) + 1;
      expect(() => patchSettings(current, { [key]: other })).toThrow(new RegExp(`"${key}" cannot change while the app runs`));
    }
    expect(() => patchSettings(current, { retryAttempts: 0 })).toThrow(/"retryAttempts" must be >= 1/);
    expect(() => patchSettings(current, { bogus: 1 })).toThrow(/unknown key "bogus"/);
    expect(() => patchSettings(current, [])).toThrow(/JSON object/);
  });

  it("keeps env-only values out of the settings", () => {
    const c = loadConfig({ PORT: "1", CASCADE_APP_CONFIG: '{"workers":3}' });
    const live = new LiveSettings(c);
    expect(live.current.workers).toBe(3);
  });
});

/** A clock tests move by hand. */
function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function tokens(n: number): SlotSource<number> & { free: number[] } {
  const free = Array.from({ length: n }, (_, i) => i);
  return { free, take: () => free.shift(), give: (s) => void free.push(s) };
}

describe("admission", () => {
  const policy =
    (p: Partial<QueuePolicy>): (() => QueuePolicy) =>
    () => ({ order: "fifo", limit: null, deadlineMs: 0, ...p });

  it("serves queued requests in FIFO or LIFO order as slots free up", async () => {
    for (const order of ["fifo", "lifo"] as const) {
      const a = new Admission(tokens(1), policy({ order }));
      expect(await a.acquire()).toMatchObject({ ok: true, slot: 0 });
      const served: string[] = [];
      const waiting = ["a", "b", "c"].map(async (name) => {
        const r = await a.acquire();
        served.push(name);
        return r;
      });
      expect(a.queueLength).toBe(3);
      // Each holder in turn finishes and frees the one slot.
      for (let i = 0; i < 3; i++) {
        a.release(0);
        await sleep(0);
      }
      await Promise.all(waiting);
      expect(served).toEqual(order === "fifo" ? ["a", "b", "c"] : ["c", "b", "a"]);
    }
  });

  it("sheds past queueLimit: reason queue, or inflight when the queue has no room at all", async () => {
    const a = new Admission(tokens(1), policy({ limit: 2 }));
    await a.acquire();
    void a.acquire();
    void a.acquire();
    expect(a.full).toBe(true);
    expect(await a.acquire()).toMatchObject({ ok: false, reason: "queue" });
    const b = new Admission(tokens(1), policy({ limit: 0 }));
    await b.acquire();
    expect(await b.acquire()).toMatchObject({ ok: false, reason: "inflight" });
  });

  it("sheds at dequeue a request that waited past the deadline, without using the slot", async () => {
    const clock = fakeClock();
    const a = new Admission(tokens(1), policy({ deadlineMs: 100 }), clock.now);
    await a.acquire();
    const old = a.acquire();
    clock.advance(150);
    const fresh = a.acquire();
    clock.advance(20);
    a.release(0);
    expect(await old).toMatchObject({ ok: false, reason: "deadline", waitedMs: 170 });
    expect(await fresh).toMatchObject({ ok: true, slot: 0, waitedMs: 20 });
  });

  it("does not let a newcomer overtake queued requests, and hands added slots to them", async () => {
    const src = tokens(0);
    const a = new Admission(src, policy({}));
    const queued = a.acquire();
    src.free.push(7); // a slot appears (workers grew)
    const late = a.acquire(); // queued behind the first, although a slot is free
    a.pump();
    expect(await queued).toMatchObject({ ok: true, slot: 7 });
    expect(a.queueLength).toBe(1);
    a.release(7);
    expect(await late).toMatchObject({ ok: true, slot: 7 });
  });
});

describe("prefork slots", () => {
  it("hands out each slot to one request at a time, least recently used first", () => {
    const added: number[] = [];
    const slots = new PreforkSlots(3, { added: (s) => added.push(s.id) });
    expect(added).toEqual([0, 1, 2]);
    const a = slots.take()!;
    const b = slots.take()!;
    const c = slots.take()!;
    expect([a.id, b.id, c.id]).toEqual([0, 1, 2]);
    expect(slots.take()).toBeUndefined();
    expect(slots.busy).toBe(3);
    slots.give(b);
    slots.give(a);
    expect(slots.take()?.id).toBe(1);
    expect(slots.take()?.id).toBe(0);
  });

  it("grows at once and shrinks free slots first, busy ones when their request ends", () => {
    const removed: number[] = [];
    const slots = new PreforkSlots(2, { removed: (s) => removed.push(s.id) });
    const busy = slots.take()!;
    slots.resize(4);
    expect(slots.size).toBe(4);
    slots.resize(1);
    expect(slots.size).toBe(1);
    expect(removed.sort()).toEqual([1, 2, 3]);
    expect(slots.take()).toBeUndefined(); // the one left is busy
    slots.resize(0);
    expect(removed).toHaveLength(3);
    slots.give(busy);
    expect(removed).toContain(busy.id);
    expect(slots.take()).toBeUndefined();
  });

  it("caps the async model at maxInFlight, read live (0 = no cap)", () => {
    let cap = 2;
    const src = new InFlightCap(() => cap);
    expect(src.take()).toBeDefined();
    expect(src.take()).toBeDefined();
    expect(src.take()).toBeUndefined();
    cap = 0;
    expect(src.take()).toBeDefined();
    expect(src.busy).toBe(3);
  });
});

describe("retries", () => {
  const p = (over: Partial<RetryPolicy>): RetryPolicy => ({
    attempts: 5,
    backoff: "exponential",
    baseMs: 50,
    maxMs: 300,
    jitter: false,
    budget: 0,
    ...over,
  });

  it("computes none / fixed / exponential delays, capped, with full jitter", () => {
    expect([1, 2, 3].map((r) => retryDelayMs(p({ backoff: "none" }), r))).toEqual([0, 0, 0]);
    expect([1, 2, 3].map((r) => retryDelayMs(p({ backoff: "fixed" }), r))).toEqual([50, 50, 50]);
    expect([1, 2, 3, 4, 5].map((r) => retryDelayMs(p({}), r))).toEqual([50, 100, 200, 300, 300]);
    expect(retryDelayMs(p({ jitter: true }), 3, () => 0.25)).toBe(50);
  });

  it("makes `attempts` calls in total against a failing call, waiting the schedule between them", async () => {
    const waits: number[] = [];
    let calls = 0;
    const retried: number[] = [];
    await expect(
      withRetries(
        async () => {
          calls++;
          throw new Error("down");
        },
        () => p({ attempts: 3, backoff: "fixed", baseMs: 10 }),
        new RetryBudget(),
        { onRetry: () => retried.push(calls) },
        async (ms) => void waits.push(ms),
      ),
    ).rejects.toThrow("down");
    expect(calls).toBe(3);
    expect(waits).toEqual([10, 10]);
    expect(retried).toEqual([1, 2]);
    expect(
      await withRetries(
        async (n) => n,
        () => p({ attempts: 3 }),
        new RetryBudget(),
      ),
    ).toBe(1);
  });

  it("budget: retries stay within the fraction of first attempts over a sliding window", () => {
    const clock = fakeClock();
    const budget = new RetryBudget(10_000, 1000, clock.now);
    for (let i = 0; i < 20; i++) budget.recordRequest();
    const allowed = Array.from({ length: 5 }, () => budget.tryRetry(0.1)).filter(Boolean).length;
    expect(allowed).toBe(2); // 10 % of 20
    clock.advance(10_500); // the window slid past all of them
    budget.recordRequest();
    expect(budget.tryRetry(0.1)).toBe(false); // 1 retry > 0.1 × 1 request
    expect(budget.tryRetry(0)).toBe(true); // 0 = unlimited
  });

  it("the read path retries the database, counting every attempt and the budget refusals", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let calls = 0;
    const db = {
      getPayload: async () => {
        calls++;
        throw new Error("db down");
      },
    } as unknown as Database;
    const items = new ItemService({ db, metrics, cacheTtlS: 60, retry: () => p({ attempts: 3, backoff: "none" }) });
    expect((await items.read(1)).status).toBe(503);
    expect(calls).toBe(3);
    const value = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values[0]?.value ?? 0;
    expect(await value(metrics.dbQueries)).toBe(3);
    expect(await value(metrics.dbErrors)).toBe(3);
    expect(await value(metrics.retries)).toBe(2);

    const budgeted = new ItemService({ db, metrics, cacheTtlS: 60, retry: () => p({ attempts: 3, backoff: "none", budget: 0.5 }) });
    calls = 0;
    for (let i = 0; i < 4; i++) await budgeted.read(1);
    expect(calls).toBe(4 + 2); // 4 first attempts, retries capped at half of them
    expect(await value(metrics.retryBudgetExhausted)).toBe(4);
  });
});

describe("database query", () => {
  it("adds CPU cost and latency as one-time sub-selects", () => {
    expect(itemQuery(3, 0, 0)).toEqual({ name: "cascade_get_item", text: "SELECT payload FROM items WHERE id=$1", values: [3] });
    const q = itemQuery(3, 1000, 250);
    expect(q.name).toBe("cascade_get_item_costly_slow");
    expect(q.text).toContain("generate_series(1, $2::int)");
    expect(q.text).toContain("pg_sleep($3::float8)");
    expect(q.values).toEqual([3, 1000, 0.25]);
    expect(itemQuery(3, 0, 100).text).toContain("pg_sleep($2::float8)");
  });
});

describe("memory", () => {
  it("reads the cgroup v2 limit, then v1, then the host's memory", () => {
    const files = (m: Record<string, string>) => (path: string) => {
      const v = m[path];
      if (v === undefined) throw new Error("ENOENT");
      return v;
    };
    expect(memoryLimit(files({ "/sys/fs/cgroup/memory.max": "268435456\n" }))).toEqual({ bytes: 268435456, source: "cgroup v2" });
    expect(
      memoryLimit(files({ "/sys/fs/cgroup/memory.max": "max\n", "/sys/fs/cgroup/memory/memory.limit_in_bytes": "134217728" })),
    ).toEqual({ bytes: 134217728, source: "cgroup v1" });
    expect(memoryLimit(files({ "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712" })).source).toBe("host");
  });

  it("allocates a start-up load, spread over time, and leaks at the configured rate", async () => {
    const ballast = new Ballast();
    const t = performance.now();
    await startupLoad(ballast, 3, 60);
    expect(ballast.bytes).toBe(3 * 2 ** 20);
    expect(performance.now() - t).toBeGreaterThanOrEqual(50);
    await startupLoad(ballast, 1.5, 0); // lowered live: the excess is released
    expect(ballast.bytes).toBe(1.5 * 2 ** 20);
    await startupLoad(ballast, 2, 0); // raised live: the difference is loaded
    expect(ballast.bytes).toBe(2 * 2 ** 20);
    // The leak on a fake clock (setInterval and performance.now), so the rate is checked to the
    // page however late a busy machine would run the ticks: 11 ticks of 20 ms at 1 MiB/s.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
    try {
      let rate = 60; // MiB/min = 1 MiB/s
      const leak = new Leak(() => rate);
      leak.start(20);
      vi.advanceTimersByTime(220);
      leak.stop();
      const leaked = leak.ballast.bytes;
      expect(Math.abs(leaked - 0.22 * 2 ** 20)).toBeLessThan(4096); // whole pages
      rate = 0; // read at each tick: a second later, nothing more
      vi.advanceTimersByTime(1000);
      leak.tick();
      expect(leak.ballast.bytes).toBe(leaked);
    } finally {
      vi.useRealTimers();
    }
  });

  it("sheds when RSS / limit reaches the fraction (0 = never)", () => {
    let rss = 50;
    let fraction = 0.8;
    const shedder = new MemoryShedder(
      () => fraction,
      () => rss,
      100,
    );
    expect(shedder.check()).toBe(false);
    rss = 80;
    expect(shedder.check()).toBe(true);
    fraction = 0;
    expect(shedder.check()).toBe(false);
  });

  it("reads a process's RSS from /proc status", () => {
    expect(procRss(1, () => "Name:\tnode\nVmRSS:\t  2048 kB\n")).toBe(2048 * 1024);
    expect(procRss(1, () => "Name:\tnode\n")).toBeUndefined();
    expect(procRss(process.pid)).toBeGreaterThan(0);
  });
});

describe("background jobs", () => {
  it("burn the configured CPU, and throw when jobsThrow is set", () => {
    const settings = { jobsIntervalMs: 1000, jobsCpuMs: 30, jobsThrow: false };
    const jobs = new BackgroundJobs(() => settings);
    const t = performance.now();
    jobs.run();
    expect(performance.now() - t).toBeGreaterThanOrEqual(29);
    settings.jobsThrow = true;
    expect(() => jobs.run()).toThrow(JobsCrash);
  });
});

describe("cache clients", () => {
  it("a connection memcached accepts then closes (its -c limit) fails fast and counts as failing", async () => {
    const mc = await fakeMemcached("refuse");
    let opened = 0;
    const cache = new MemcachedCache(mc.addr, { timeoutMs: 3000, failoverMs: 200, onConnection: () => opened++ });
    try {
      const t = performance.now();
      await expect(cache.get("k")).rejects.toThrow(/closed by memcached/);
      expect(performance.now() - t).toBeLessThan(1500); // at the close, not at the 3 s deadline
      expect(cache.failing).toBe(true);
      expect(opened).toBe(1);
      await sleep(250);
      await expect(cache.get("k")).rejects.toThrow(/closed/); // reconnected after failoverMs, refused again
      expect(opened).toBe(2);
    } finally {
      await cache.close();
      await mc.close();
    }
  });

  it("per-request opens and closes a connection for every operation", async () => {
    const mc = await fakeMemcached({ hit: "hello" });
    let opened = 0;
    const cache = new PerRequestCache(mc.addr, { timeoutMs: 500, failoverMs: 1000, onConnection: () => opened++ });
    try {
      for (let i = 0; i < 5; i++) expect(await cache.get("k")).toBe("hello");
      await cache.set("k", "v", 60);
      expect(opened).toBe(6);
      expect(mc.connections()).toBe(6);
    } finally {
      await cache.close();
      await mc.close();
    }
  });

  it("pooled spreads operations over its connections", async () => {
    const mc = await fakeMemcached("miss");
    const members = [0, 1, 2].map(() => new MemcachedCache(mc.addr, { timeoutMs: 500, failoverMs: 1000 }));
    const pool = new PooledCache(members);
    try {
      for (let i = 0; i < 6; i++) await pool.get("k");
      expect(mc.connections()).toBe(3);
    } finally {
      await pool.close();
      await mc.close();
    }
  });

  it("per-worker: one connection per prefork slot, and refused slots counted as without cache", async () => {
    const ok = await fakeMemcached("miss");
    const refusing = await fakeMemcached("refuse");
    try {
      for (const [mc, without] of [
        [ok, 0],
        [refusing, 5],
      ] as const) {
        const live = new LiveSettings({ ...DEFAULT_SETTINGS, model: "prefork", workers: 5, cacheClient: "per-worker" });
        let slots: PreforkSlots | undefined;
        let opened = 0;
        const clients = new CacheClients({
          addr: mc.addr,
          live,
          slots: () => slots?.slots ?? [],
          log: () => {},
          onConnection: () => opened++,
        });
        slots = new PreforkSlots(5, { added: (s) => clients.slotAdded(s), removed: (s) => clients.slotRemoved(s) });
        await until(async () => opened >= 5 && clients.withoutCache() === without, 5000);
        expect(opened).toBe(5);
        expect(clients.withoutCache()).toBe(without);
        const a = clients.cacheFor(slots.take() as Slot);
        const b = clients.cacheFor(slots.take() as Slot);
        expect(a).not.toBe(b);
        // Switched live to a pool of 2: new connections, the old ones closed.
        live.replace({ ...live.current, cacheClient: "pooled", cachePoolSize: 2 });
        await clients.connect();
        expect(opened).toBe(7);
        await clients.close();
      }
    } finally {
      await ok.close();
      await refusing.close();
    }
  });
});

describe("app in-process: admission and admin API", () => {
  let app: RunningApp | undefined;
  let mc: Awaited<ReturnType<typeof fakeMemcached>> | undefined;
  afterAll(async () => {
    await app?.close();
    await mc?.close();
  });

  it("queues, sheds and applies POST /admin/config live", async () => {
    // A memcached that never answers: each request holds its slot for cacheTimeoutMs.
    const silent = await fakeMemcached("silent");
    try {
      app = await startApp(
        {
          ...loadConfig({ PORT: "0", CACHE_ADDR: silent.addr }),
          model: "prefork",
          workers: 1,
          cacheClient: "per-worker",
          cacheTimeoutMs: 600,
          cacheFailoverMs: 0,
          queueLimit: 1,
        },
        { log: () => {}, defaultMetrics: false },
      );
      const base = `http://127.0.0.1:${app.port}`;
      await sleep(650); // the eager connect times out
      const statuses = await Promise.all([0, 1, 2].map((i) => fetch(`${base}/item/${i}`).then((r) => r.status)));
      // One served (503: no database), one queued then served, one shed (queue full).
      expect(statuses.sort()).toEqual([503, 503, 503]);
      let text = await (await fetch(`${base}/metrics`)).text();
      for (const name of METRIC_NAMES) expect(text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
      expect(text).toMatch(/^app_shed_total\{reason="queue"\} 1$/m);
      expect(text).toMatch(/^app_workers 1$/m);
      expect(text).toMatch(/^app_queue_wait_seconds_count 2$/m);

      const get = await fetch(`${base}/admin/config`);
      expect(get.status).toBe(200);
      const settings = (await get.json()) as Record<string, unknown>;
      expect(settings).toMatchObject({ model: "prefork", workers: 1, queueLimit: 1 });
      expect(settings).not.toHaveProperty("port");

      const post = (body: string) => fetch(`${base}/admin/config`, { method: "POST", headers: JSON_BODY, body });
      let res = await post('{"workers":3,"queueLimit":null,"queueOrder":"lifo"}');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ workers: 3, queueLimit: null, queueOrder: "lifo" });
      expect(app.live.current.workers).toBe(3);
      text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toMatch(/^app_workers 3$/m);

      res = await post('{"workers":0}');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/"workers" must be >= 1/);
      res = await post('{"modle":"async"}');
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/unknown key \\"modle\\"/);
      res = await post('{"model":"async"}');
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/cannot change while the app runs/);
      res = await post("{not json");
      expect(res.status).toBe(400);
      res = await post(JSON.stringify(app.live.current)); // GET's answer posted back as is
      expect(res.status).toBe(200);
      expect((await fetch(`${base}/admin/config`, { method: "DELETE" })).status).toBe(405);
      // A page in the user's browser can POST text/plain cross-origin without a preflight: refused, not applied.
      const plain = await fetch(`${base}/admin/config`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: '{"workers":9}',
      });
      expect(plain.status).toBe(415);
      expect(app.live.current.workers).not.toBe(9);
    } finally {
      await app?.close();
      app = undefined;
      await silent.close();
    }
  });

  it("with a per-run token, the admin API answers only calls that carry it", async () => {
    process.env.CASCADE_ADMIN_TOKEN = "run-token-0123";
    try {
      app = await startApp({ ...loadConfig({ PORT: "0" }), maxInFlight: 4 }, { log: () => {}, defaultMetrics: false });
    } finally {
      delete process.env.CASCADE_ADMIN_TOKEN;
    }
    const url = `http://127.0.0.1:${app.port}/admin/config`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: "Bearer run-token-012" } })).status).toBe(401);
    const post = (headers: Record<string, string>) => fetch(url, { method: "POST", headers, body: '{"maxInFlight":9}' });
    expect((await post({ "content-type": "text/plain" })).status).toBe(401);
    expect((await post({ "content-type": "application/json" })).status).toBe(401);
    expect(app.live.current.maxInFlight).toBe(4);
    const ok = await post({ "content-type": "application/json", authorization: "Bearer run-token-0123" });
    expect(ok.status).toBe(200);
    expect(app.live.current.maxInFlight).toBe(9);
    await app.close();
    app = undefined;
  });

  it("serves /hit from the cache, and sheds with /health failing when memory is over the fraction", async () => {
    mc = await fakeMemcached({ hit: "cached" });
    // A cache deadline far above the default 200 ms: beside a busy neighbour the first get (and
    // its connect) can take that long, and a timeout would serve 503 from the missing database.
    app = await startApp(
      { ...loadConfig({ PORT: "0", CACHE_ADDR: mc.addr }), maxInFlight: 4, cacheTimeoutMs: 5000 },
      { log: () => {}, defaultMetrics: false, rss: () => 10 ** 15 },
    );
    const base = `http://127.0.0.1:${app.port}`;
    const hit = await fetch(`${base}/hit`);
    expect(hit.status).toBe(200);
    expect(await hit.text()).toBe("cached");
    const res = await fetch(`${base}/admin/config`, { method: "POST", headers: JSON_BODY, body: '{"shedMemoryFraction":0.9}' });
    expect(res.status).toBe(200);
    await sleep(150); // the shedder re-checks every 100 ms
    expect((await fetch(`${base}/hit`)).status).toBe(503);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(503);
    expect(await health.text()).toMatch(/memory/);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^app_shed_total\{reason="memory"\} 1$/m);
    expect(text).toMatch(/^app_cache_hits_total 1$/m);
  });
});

describe("cluster mode (bundle in a child process)", () => {
  const bundle = new AppBundle();
  beforeAll(() => bundle.build());
  afterAll(() => bundle.cleanup());
  const run = (config: object) => bundle.run({ PORT: "0", CASCADE_APP_CONFIG: JSON.stringify(config) });

  const metric = (text: string, line: string) =>
    Number(
      text
        .split("\n")
        .find((l) => l.startsWith(`${line} `))
        ?.split(" ")[1],
    );

  it("sums metrics over processes, forwards admin changes to all, restarts crashed ones", async () => {
    const app = run({ processes: 2, restartDelayMs: 50, model: "prefork", workers: 3 });
    onTestFailed(() => console.log(app.output().all));
    const base = `http://127.0.0.1:${await app.listening}`;
    // During a crash loop a scrape can fail (no process listening, or the one asked dies).
    const scrape = async () => {
      const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
      return res?.status === 200 ? res.text() : "";
    };
    await until(async () => metric(await scrape(), "app_workers") === 6, 5000);
    for (let i = 0; i < 6; i++) expect((await fetch(`${base}/item/${i}`, { signal: AbortSignal.timeout(3000) })).status).toBe(503); // no database
    let text = await scrape();
    expect(metric(text, 'app_requests_total{status="503"}')).toBe(6);
    expect(metric(text, "app_processes")).toBe(2);

    const res = await fetch(`${base}/admin/config`, {
      method: "POST",
      headers: JSON_BODY,
      signal: AbortSignal.timeout(3000),
      body: '{"workers":5}',
    });
    expect(res.status).toBe(200);
    await until(async () => metric(await scrape(), "app_workers") === 10, 3000);
    expect(
      (
        await fetch(`${base}/admin/config`, {
          method: "POST",
          headers: JSON_BODY,
          signal: AbortSignal.timeout(3000),
          body: '{"processes":3}',
        })
      ).status,
    ).toBe(400);

    // The bad deploy: jobs start throwing; the master restarts each process as it crashes.
    await fetch(`${base}/admin/config`, {
      method: "POST",
      headers: JSON_BODY,
      signal: AbortSignal.timeout(3000),
      body: '{"jobsIntervalMs":700,"jobsThrow":true}',
    });
    await until(async () => metric(await scrape(), 'app_worker_restarts_total{reason="crash"}') >= 3, 10_000);
    // The rollback, through whichever process is up.
    await until(async () => {
      const r = await fetch(`${base}/admin/config`, {
        method: "POST",
        headers: JSON_BODY,
        signal: AbortSignal.timeout(3000),
        body: '{"jobsThrow":false}',
      }).catch(() => undefined);
      return r?.status === 200;
    }, 5000);
    await sleep(1500); // processes forked before the rollback have crashed and been replaced
    const restarts = metric(await scrape(), 'app_worker_restarts_total{reason="crash"}');
    await sleep(1000);
    text = await scrape();
    expect(metric(text, 'app_worker_restarts_total{reason="crash"}')).toBe(restarts); // the loop is over
    expect(metric(text, 'app_requests_total{status="503"}')).toBe(6); // counts survive restarts
    expect(metric(text, "app_workers")).toBe(10); // replacements got the live settings
    expect(metric(text, "app_processes")).toBe(2);

    app.child.kill("SIGTERM");
    expect(await app.exited).toBe(0);
  }, 30_000);

  it("replaces a process whose start-up load exceeds workerMemoryCapMb (a restart loop)", async () => {
    const app = run({ processes: 1, restartDelayMs: 50, workerMemoryCapMb: 100 });
    const base = `http://127.0.0.1:${await app.listening}`;
    // Set live: the running process loads the blobs and goes over the cap; every replacement loads
    // them at start and is killed before it ever listens.
    const res = await fetch(`${base}/admin/config`, {
      method: "POST",
      headers: JSON_BODY,
      body: '{"startupLoadMb":120,"startupLoadMs":300}',
    });
    expect(res.status).toBe(200);
    await until(async () => (app.output().all.match(/exited \(.*memory_cap\)/g)?.length ?? 0) >= 3, 10_000);
    expect(app.output().all).toMatch(/RSS \d+ MiB > cap 100 MiB/);
    app.child.kill("SIGTERM");
    expect(await app.exited).toBe(0);
  }, 20_000);
});
