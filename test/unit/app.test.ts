// Reference app: config parsing, the read-through logic, the memcached wrapper's failure handling
// (against tiny fake servers, no real memcached), and the esbuild bundle run as a child process
// with unreachable memcached and Postgres.
import { type AddressInfo, connect, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cache, MemcachedCache } from "../../src/app/cache.js";
import { DEFAULT_SETTINGS, loadConfig, parseSettings } from "../../src/app/config.js";
import type { Database } from "../../src/app/db.js";
import { ItemService } from "../../src/app/items.js";
import { METRIC_NAMES, createMetrics } from "../../src/app/metrics.js";
import { AppBundle } from "../support/app-child.js";
import { fakeMemcached } from "../support/fake-memcached.js";

/** A TCP port that nothing listens on (bound once by us, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("app config", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      cacheAddr: undefined,
      databaseUrl: undefined,
      keys: 100,
      cacheTimeoutMs: 200,
      dbPoolSize: 10,
      dbQueryTimeoutMs: 2000,
      cacheTtlS: 60,
    });
  });

  it("reads env and CASCADE_APP_CONFIG", () => {
    const c = loadConfig({
      PORT: "9000",
      CACHE_ADDR: "memcached:11211",
      DATABASE_URL: "postgres://u:p@db:5432/x",
      CASCADE_APP_CONFIG: '{"keys": 7, "dbPoolSize": 3}',
    });
    expect(c).toMatchObject({ port: 9000, cacheAddr: "memcached:11211", keys: 7, dbPoolSize: 3, cacheTtlS: 60 });
  });

  it("rejects unknown keys by name, and bad values", () => {
    expect(() => parseSettings('{"keys": 5, "cacheTimeout": 100}')).toThrow(/unknown key "cacheTimeout"/);
    expect(() => parseSettings('{"keys": 0}')).toThrow(/"keys" must be >= 1/);
    expect(() => parseSettings('{"keys": 1.5}')).toThrow(/integer/);
    expect(() => parseSettings('{"dbPoolSize": "10"}')).toThrow(/number/);
    expect(() => parseSettings("[1]")).toThrow(/JSON object/);
    expect(() => parseSettings("{")).toThrow(/not valid JSON/);
    expect(parseSettings(undefined)).toEqual(DEFAULT_SETTINGS);
  });
});

describe("read-through", () => {
  function fakeCache(behaviour: "hit" | "miss" | "error"): Cache & { sets: string[] } {
    const sets: string[] = [];
    return {
      sets,
      get: async (key) => {
        if (behaviour === "error") throw new Error("down");
        return behaviour === "hit" ? `cached ${key}` : null;
      },
      set: async (key) => {
        sets.push(key);
      },
      close: async () => {},
    };
  }
  const fakeDb = (fail: boolean) =>
    ({
      getPayload: async (id: number) => {
        if (fail) throw new Error("no db");
        return id < 10 ? `row ${id}` : null;
      },
    }) as unknown as Database;
  const counts = async (m: ReturnType<typeof createMetrics>) => {
    const v = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values[0]?.value ?? 0;
    return {
      hits: await v(m.cacheHits),
      misses: await v(m.cacheMisses),
      errors: await v(m.cacheErrors),
      db: await v(m.dbQueries),
      dbErrors: await v(m.dbErrors),
    };
  };

  it("serves hits from the cache without touching the database", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const cache = fakeCache("hit");
    const items = new ItemService({ cache, db: fakeDb(true), metrics, cacheTtlS: 60 });
    expect(await items.read(3)).toEqual({ status: 200, body: "cached item:3", source: "cache" });
    expect(await counts(metrics)).toEqual({ hits: 1, misses: 0, errors: 0, db: 0, dbErrors: 0 });
  });

  it("reads misses from the database and fills the cache", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const cache = fakeCache("miss");
    const items = new ItemService({ cache, db: fakeDb(false), metrics, cacheTtlS: 60 });
    expect(await items.read(3)).toEqual({ status: 200, body: "row 3", source: "db" });
    expect((await items.read(42)).status).toBe(404);
    expect(cache.sets).toEqual(["item:3"]);
    expect(await counts(metrics)).toEqual({ hits: 0, misses: 2, errors: 0, db: 2, dbErrors: 0 });
  });

  it("falls through to the database on cache errors, and answers 503 when that fails", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const cache = fakeCache("error");
    const ok = new ItemService({ cache, db: fakeDb(false), metrics, cacheTtlS: 60 });
    expect(await ok.read(1)).toEqual({ status: 200, body: "row 1", source: "db" });
    expect(cache.sets).toEqual([]); // no set into a cache that just failed
    const failing = new ItemService({ cache, db: fakeDb(true), metrics, cacheTtlS: 60 });
    expect((await failing.read(1)).status).toBe(503);
    expect(await counts(metrics)).toEqual({ hits: 0, misses: 0, errors: 2, db: 2, dbErrors: 1 });
  });
});

describe("memcached wrapper", () => {
  it("fails fast on a closed port, stays down for failoverMs, then reconnects", async () => {
    const port = await closedPort();
    // Fast means at the refusal, well before the 2 s deadline (the margin is for a busy machine).
    const cache = new MemcachedCache(`127.0.0.1:${port}`, { timeoutMs: 2000, failoverMs: 150 });
    try {
      let t = Date.now();
      await expect(cache.get("item:1")).rejects.toThrow(/ECONNREFUSED|connect/);
      expect(Date.now() - t).toBeLessThan(1000);
      expect(cache.isDown).toBe(true);
      await expect(cache.get("item:1")).rejects.toThrow(/marked down/);

      const server = await fakeMemcached("miss", port);
      try {
        await new Promise((r) => setTimeout(r, 200));
        t = Date.now();
        expect(await cache.get("item:1")).toBeNull();
        await cache.set("item:1", "v", 60);
        expect(Date.now() - t).toBeLessThan(1000);
      } finally {
        await server.close();
      }
    } finally {
      await cache.close();
    }
  });

  it("bounds an operation on a server that never answers by timeoutMs", async () => {
    const port = await closedPort();
    const server = await fakeMemcached("silent", port);
    const cache = new MemcachedCache(`127.0.0.1:${port}`, { timeoutMs: 100, failoverMs: 1000 });
    try {
      const t = Date.now();
      const results = await Promise.allSettled([cache.get("a"), cache.get("b"), cache.get("c")]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
      // At the 100 ms deadline, not memjs' own 60 s (the margin is for a busy machine).
      expect(Date.now() - t).toBeLessThan(1000);
      expect(cache.isDown).toBe(true);
    } finally {
      await cache.close();
      await server.close();
    }
  });
});

describe("app bundle (child process)", () => {
  const app = new AppBundle();
  beforeAll(() => app.build());
  afterAll(() => app.cleanup());
  const run = (env: Record<string, string>) => app.run(env);

  it("fails at start-up naming an unknown CASCADE_APP_CONFIG key", async () => {
    const app = run({ PORT: "0", CASCADE_APP_CONFIG: '{"keys":5,"cacheTimeotMs":100}' });
    const code = await app.exited;
    expect(code).not.toBe(0);
    expect(app.output().stderr).toContain('unknown key "cacheTimeotMs"');
  });

  it("serves metrics, counts cache errors, falls through to a dead database with 503, exits 0 on SIGTERM", async () => {
    const app = run({
      PORT: "0",
      CACHE_ADDR: `127.0.0.1:${await closedPort()}`,
      DATABASE_URL: `postgres://cascade@127.0.0.1:${await closedPort()}/cascade`,
      CASCADE_APP_CONFIG: JSON.stringify({ keys: 10, cacheTimeoutMs: 300, dbQueryTimeoutMs: 500 }),
    });
    const base = `http://127.0.0.1:${await app.listening}`;

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(503);
    await health.text();

    const t = Date.now();
    for (const path of ["/", "/item/3", "/"]) {
      const res = await fetch(base + path);
      expect(res.status).toBe(503);
      expect(await res.text()).toMatch(/database unavailable/);
    }
    expect(Date.now() - t).toBeLessThan(3 * (300 + 500 + 100));

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const name of METRIC_NAMES) expect(text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    const value = (line: string) =>
      Number(
        text
          .split("\n")
          .find((l) => l.startsWith(`${line} `))
          ?.split(" ")[1],
      );
    expect(value("app_cache_errors_total")).toBe(3);
    expect(value("app_cache_hits_total")).toBe(0);
    expect(value("app_db_queries_total")).toBe(3);
    expect(value("app_db_errors_total")).toBe(3);
    expect(value('app_requests_total{status="503"}')).toBe(3);
    expect(value("app_in_flight")).toBe(0);
    expect(value("app_request_duration_seconds_count")).toBe(3);

    expect((await fetch(`${base}/nope`)).status).toBe(404);

    app.child.kill("SIGTERM");
    expect(await app.exited).toBe(0);
  });

  it("after SIGTERM, tells a kept-alive client to leave (Connection: close) instead of serving it through the grace", async () => {
    const cachePort = await closedPort();
    const cache = await fakeMemcached("silent", cachePort);
    const app = run({
      PORT: "0",
      CACHE_ADDR: `127.0.0.1:${cachePort}`,
      DATABASE_URL: `postgres://cascade@127.0.0.1:${await closedPort()}/cascade`,
      CASCADE_APP_CONFIG: JSON.stringify({ keys: 10, cacheTimeoutMs: 600, dbQueryTimeoutMs: 300 }),
    });
    const port = await app.listening;
    try {
      // One raw kept-alive connection, busy (a cache get that waits 600 ms) when SIGTERM comes, so
      // close() cannot drop it as idle.
      const sock = connect(port, "127.0.0.1");
      let got = "";
      sock.on("data", (d: Buffer) => {
        got += d.toString();
      });
      const ended = new Promise<void>((r) => sock.on("close", () => r()));
      const responses = async (n: number) => {
        while ((got.match(/^HTTP\/1\.1 /gm) ?? []).length < n) await new Promise((r) => setTimeout(r, 10));
      };
      sock.write("GET /item/1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
      await new Promise((r) => setTimeout(r, 150));
      app.child.kill("SIGTERM");
      await responses(1);
      // The request in flight at SIGTERM was answered; the next one on the same connection is
      // answered too, but with Connection: close, and the connection then ends.
      sock.write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
      await responses(2);
      await ended;
      const second = got.slice(got.lastIndexOf("HTTP/1.1 "));
      expect(second).toMatch(/^connection: close\r$/im);
      expect(await app.exited).toBe(0);
    } finally {
      await cache.close();
    }
  });

  it("exits non-zero when the database stays unreachable past dbInitTimeoutMs", async () => {
    const app = run({
      PORT: "0",
      DATABASE_URL: `postgres://cascade@127.0.0.1:${await closedPort()}/cascade`,
      CASCADE_APP_CONFIG: JSON.stringify({ dbInitTimeoutMs: 600 }),
    });
    await app.listening;
    const code = await app.exited;
    expect(code).toBe(1);
    expect(app.output().stderr).toMatch(/postgres not ready after \d+ attempts/);
  });
});
