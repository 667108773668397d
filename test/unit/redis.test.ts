// Redis as a cache kind: the plan it gets, the INFO reader's parsing and connection handling, and
// the app's wrapper's failure handling (against fake servers; the real Redis is in
// test/docker/redis.test.ts).
import { createServer, type Server, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { cacheHits, connections } from "../../src/analyze/figures.js";
import { buildSeries, type Series } from "../../src/analyze/series.js";
import { loadConfig } from "../../src/app/config.js";
import type { LoadSample } from "../../src/load/driver.js";
import type { ComponentsSample } from "../../src/observe/observer.js";
import { RedisCache } from "../../src/app/redis-cache.js";
import { parseRedisInfo, parseReply, RedisReader } from "../../src/observe/sources/redis.js";
import { parseScenario } from "../../src/scenario/load.js";
import { planTopology } from "../../src/topology/plan.js";

const INFO = [
  "# Server",
  "redis_version:7.0.15",
  "redis_mode:standalone",
  "",
  "# Clients",
  "connected_clients:3",
  "maxclients:20",
  "",
  "# Stats",
  "total_connections_received:41",
  "rejected_connections:7",
  "keyspace_hits:120",
  "keyspace_misses:9",
  "evicted_keys:2",
  "",
  "# Keyspace",
  "db0:keys=10,expires=10,avg_ttl=59000",
  "",
].join("\r\n");

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

async function listen(onConn: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConn);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

describe("redis INFO", () => {
  it("keeps numeric fields, skips names and versions, and counts keys over databases", () => {
    expect(parseRedisInfo(INFO)).toEqual({
      connected_clients: 3,
      maxclients: 20,
      total_connections_received: 41,
      rejected_connections: 7,
      keyspace_hits: 120,
      keyspace_misses: 9,
      evicted_keys: 2,
      keys: 10,
    });
  });

  it("waits for the whole bulk string, and reads error replies as errors", () => {
    const whole = bulk(INFO);
    expect(parseReply(whole.slice(0, 30))).toBeUndefined();
    expect(parseReply(whole.slice(0, -1))).toBeUndefined();
    expect(parseReply(whole)).toBe(INFO);
    const err = parseReply("-ERR max number of clients reached\r\n");
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe("ERR max number of clients reached");
  });

  it("holds one connection across reads, and reconnects after the server closes it", async () => {
    let connections = 0;
    const { server, port } = await listen((sock) => {
      connections++;
      let reads = 0;
      sock.on("data", () => {
        reads++;
        const reply = bulk(`total_connections_received:${connections}\r\nkeyspace_hits:${reads}\r\n`);
        // split over two packets, as a long INFO is
        sock.write(reply.slice(0, 12));
        setTimeout(() => {
          sock.write(reply.slice(12));
          if (reads === 2) sock.end();
        }, 10);
      });
    });
    const reader = new RedisReader(async () => ({ host: "127.0.0.1", port }), 500);
    try {
      await reader.open();
      expect(connections).toBe(1); // taken before anyone reads
      expect(await reader.read()).toEqual({ total_connections_received: 1, keyspace_hits: 1, keys: 0 });
      expect(await reader.read()).toEqual({ total_connections_received: 1, keyspace_hits: 2, keys: 0 });
      await new Promise((r) => setTimeout(r, 50));
      expect(await reader.read()).toEqual({ total_connections_received: 2, keyspace_hits: 1, keys: 0 });
    } finally {
      await reader.close();
      server.close();
    }
  });

  it("fails a read refused past maxclients, and one that gets no answer in time", async () => {
    const refusing = await listen((sock) => sock.end("-ERR max number of clients reached\r\n"));
    const silent = await listen(() => {});
    const a = new RedisReader(async () => ({ host: "127.0.0.1", port: refusing.port }), 500);
    const b = new RedisReader(async () => ({ host: "127.0.0.1", port: silent.port }), 100);
    try {
      await expect(a.read()).rejects.toThrow(/max number of clients|closed/);
      await expect(b.read()).rejects.toThrow("no answer in 100 ms");
    } finally {
      await a.close();
      await b.close();
      refusing.server.close();
      silent.server.close();
    }
  });
});

describe("redis plan", () => {
  const yaml = `name: r
services:
  app: { kind: app }
  cache: { kind: redis, connections: 20, memory: 64m }
  db: { kind: postgres }
links:
  - { from: app, to: cache }
  - { from: app, to: db }
load: { target: app, phases: [{ duration: 1s, rate: 1 }] }
`;

  it("maps connections to maxclients and the memory limit to maxmemory with LRU eviction, no persistence", () => {
    const plan = planTopology(parseScenario(yaml, "r.yaml"));
    const cache = plan.containers.find((c) => c.service === "cache");
    expect(cache?.port).toBe(6379);
    expect(cache?.image).toEqual({ role: "redis" });
    expect(cache?.cmd).toEqual([
      "--port",
      "6379",
      "--maxclients",
      "20",
      "--maxmemory",
      "51mb",
      "--maxmemory-policy",
      "allkeys-lru",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "no",
    ]);
    expect(cache?.ulimits.nofile).toBe(84);
    expect(cache?.ready.tcp).toEqual({ port: 6379, protocol: "redis" });
    const app = plan.containers.find((c) => c.service === "app");
    expect(app?.env.CACHE_ADDR).toBe("cache:6379"); // Toxiproxy answers on the cache's own name
    expect(app?.env.CACHE_KIND).toBe("redis");
  });

  it("tells the app nothing new for memcached", () => {
    const plan = planTopology(parseScenario(yaml.replace("kind: redis", "kind: memcached"), "r.yaml"));
    expect(plan.containers.find((c) => c.service === "app")?.env.CACHE_KIND).toBeUndefined();
  });
});

describe("the app's redis client", () => {
  it("reads CACHE_KIND, memcached by default, and refuses another", () => {
    expect(loadConfig({}).cacheKind).toBe("memcached");
    expect(loadConfig({ CACHE_KIND: "redis", CACHE_ADDR: "cache:6379" }).cacheKind).toBe("redis");
    expect(() => loadConfig({ CACHE_KIND: "valkey" })).toThrow(/CACHE_KIND must be memcached or redis/);
  });

  it("fails fast on a closed port and stays down for failoverMs", async () => {
    const { server, port } = await listen(() => {});
    server.close(); // the port is now closed
    await new Promise((r) => setTimeout(r, 20));
    const cache = new RedisCache(`127.0.0.1:${port}`, { timeoutMs: 2000, failoverMs: 300 });
    try {
      const t = Date.now();
      await expect(cache.get("k")).rejects.toThrow(/ECONNREFUSED|closed|connect/);
      expect(Date.now() - t).toBeLessThan(1000); // at the refusal, not the 2 s deadline
      expect(cache.isDown).toBe(true);
      expect(cache.failing).toBe(true);
      await expect(cache.get("k")).rejects.toThrow(/marked down/);
    } finally {
      await cache.close();
    }
  });

  it("bounds operations on a server that never answers by timeoutMs, and counts its connection", async () => {
    const { server, port } = await listen(() => {});
    let opened = 0;
    const cache = new RedisCache(`127.0.0.1:${port}`, { timeoutMs: 100, failoverMs: 1000, onConnection: () => opened++ });
    try {
      const t = Date.now();
      const results = await Promise.allSettled([cache.get("a"), cache.get("b"), cache.set("c", "v", 60)]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
      expect(Date.now() - t).toBeLessThan(1000);
      expect(cache.isDown).toBe(true);
      expect(opened).toBe(1);
    } finally {
      await cache.close();
      server.close();
    }
  });

  it("sends the GET first on a new connection, as memjs does: no handshake round trips", async () => {
    const first: string[] = [];
    const { server, port } = await listen((sock) =>
      sock.once("data", (d: Buffer) => {
        first.push(d.toString());
        sock.write("$-1\r\n"); // nil: a miss
      }),
    );
    const cache = new RedisCache(`127.0.0.1:${port}`, { timeoutMs: 1000, failoverMs: 200 });
    try {
      expect(await cache.get("item:1")).toBeNull();
      expect(first).toEqual(["*2\r\n$3\r\nget\r\n$6\r\nitem:1\r\n"]);
    } finally {
      await cache.close();
      server.close();
    }
  });

  it("a connection refused past maxclients fails at once and is marked down", async () => {
    const { server, port } = await listen((sock) => sock.end("-ERR max number of clients reached\r\n"));
    const cache = new RedisCache(`127.0.0.1:${port}`, { timeoutMs: 3000, failoverMs: 200 });
    try {
      const t = Date.now();
      await expect(cache.get("k")).rejects.toThrow(/max number of clients|closed/);
      expect(Date.now() - t).toBeLessThan(1500);
      expect(cache.failing).toBe(true);
    } finally {
      await cache.close();
      server.close();
    }
  });
});

describe("redis in the figures", () => {
  const series = (rows: Array<Record<string, number>>): Series => ({
    seconds: rows.length,
    users: rows.map(() => ({ offered: 10, sent: 10, dropped: 0, good: 10, s5xx: 0, s503: 0, success: 1, p50: 1, p99: 2 })),
    kinds: { cache: "redis", app: "app" },
    services: { cache: rows, app: rows.map(() => ({ cache_hits_per_s: 99 })) },
    gaps: {},
  });

  it("takes cache hits and connections from Redis INFO, naming it, before the app's own count", () => {
    const s = series([
      { keyspace_hits_per_s: 9, total_connections_received_per_s: 1, rejected_connections_per_s: 0 },
      { keyspace_hits_per_s: 8, total_connections_received_per_s: 0, rejected_connections_per_s: 3 },
      {}, // down: no reading, no hits
    ]);
    expect(cacheHits(s, { from: 0, to: 3 }, false)).toEqual({ value: 17, source: "cache (redis INFO keyspace_hits)" });
    expect(cacheHits(s, { from: 2, to: 3 }, false).value).toBe(0);
    expect(connections(s, { from: 0, to: 3 })).toEqual([
      {
        dep: "cache",
        opened: 1,
        refused: 3,
        refusedWord: "refused",
        source: "cache (redis INFO total_connections_received, rejected_connections)",
      },
    ]);
  });

  it("turns INFO counters into per-second rates, a restart counting from zero", () => {
    const hosts = { "cache-1": ["cache", "redis"] as [string, string] };
    const load = [0, 1, 2].map((t) => ({ t }) as unknown as LoadSample);
    const reading = (hits: number) => ({ "cache-1.redis": { keyspace_hits: hits, connected_clients: 5 } });
    const comps = [0, 1, 2, 3].map((t, i) => ({ t, readings: reading([100, 110, 130, 4][i] as number), missing: {} }));
    const s = buildSeries(load, comps as unknown as ComponentsSample[], hosts);
    expect(s.services.cache?.map((r) => r.keyspace_hits_per_s)).toEqual([10, 20, 4]);
    expect(s.services.cache?.[0]?.connected_clients).toBe(5);
  });
});
