// Redis as a cache on real containers: the reference app reads through it (ioredis, chosen by the
// plan's CACHE_KIND), and the harness's INFO reader counts what happened — hits and misses against
// the app's own count, connections accepted and refused at a low maxclients (while the reader,
// holding its connection from the start, still reads), and evictions under maxmemory.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { moduleFor } from "../../src/faults/registry.js";
import type { Applied } from "../../src/faults/types.js";
import { Fault } from "../../src/scenario/schema.js";
import { parsePrometheus, sumOf } from "../../src/observe/sources/prometheus.js";
import { type RedisInfo, RedisReader } from "../../src/observe/sources/redis.js";
import type { Endpoint } from "../../src/runtime/types.js";
import { load, type Topology, topology, until } from "./topology.js";

const MAXCLIENTS = 12;

const YAML = `name: redis-it
services:
  app: { kind: app, config: { keys: 20, cachePoolSize: 4 } }
  cache: { kind: redis, connections: ${MAXCLIENTS}, memory: 32m }
  db: { kind: postgres }
links:
  - { from: app, to: cache }
  - { from: app, to: db }
load: { target: app, phases: [{ duration: 1s, rate: 1 }] }
`;

let t: Topology;
let reader: RedisReader;
let cache: Endpoint;

beforeAll(async () => {
  t = await topology(YAML);
  cache = await t.ep("cache");
  // As `cascade run` does: the reader takes its connection as soon as the cache is up.
  reader = new RedisReader(() => t.ep("cache"), 800);
  await reader.open();
});

afterAll(async () => {
  await reader?.close();
  await t?.down();
});

const delta = (a: RedisInfo, b: RedisInfo, k: string) => (b[k] ?? 0) - (a[k] ?? 0);

const apply = (f: Record<string, unknown>): Promise<Applied> => {
  const fault = Fault.parse({ at: 0, ...f });
  return moduleFor(fault).apply(fault, { runtime: t.runtime, ...(t.toxiproxy ? { toxiproxy: t.toxiproxy } : {}) });
};

/** PING on a fresh connection: the reply, or null when none comes within `ms`. */
async function pong(ep: Endpoint, ms = 1000): Promise<string | null> {
  const r = await Promise.race([ping(ep).catch(() => null), new Promise<null>((res) => setTimeout(() => res(null), ms))]);
  r?.sock.destroy();
  return r ? r.reply : null;
}

/** A raw connection that sends PING: "+PONG" when accepted, the error line when refused. */
function ping(ep: Endpoint): Promise<{ sock: Socket; reply: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(ep.port, ep.host);
    const timer = setTimeout(() => reject(new Error("no reply to PING in 2 s")), 2000);
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.once("data", (d: Buffer) => {
      clearTimeout(timer);
      resolve({ sock, reply: d.toString().trim() });
    });
    sock.once("error", reject);
  });
}

/** Inline commands on a fresh connection, one reply line each (integers and simple strings). */
function commands(ep: Endpoint, lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(ep.port, ep.host);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`replies so far: ${buf.slice(0, 200)}`));
    }, 10_000);
    sock.once("connect", () => sock.write(lines.map((l) => `${l}\r\n`).join("")));
    sock.on("data", (d: Buffer) => {
      buf += d.toString();
      const replies = buf.split("\r\n").filter(Boolean);
      if (replies.length < lines.length) return;
      clearTimeout(timer);
      sock.destroy();
      resolve(replies);
    });
    sock.once("error", reject);
  });
}

describe("redis on a real container", () => {
  it("counts the app's hits and misses as the app does", async () => {
    const before = await reader.read();
    const summary = await load(await t.ep("app"), "/", [{ duration: 3000, rate: 50 }]);
    expect(summary.totals.completed).toBeGreaterThan(140);
    const after = await reader.read();
    const m = parsePrometheus(await (await fetch(`http://${(await t.ep("app")).host}:${(await t.ep("app")).port}/metrics`)).text());
    const appHits = sumOf(m, "app_cache_hits_total");
    const appMisses = sumOf(m, "app_cache_misses_total");
    console.log(
      `redis keyspace_hits +${delta(before, after, "keyspace_hits")} misses +${delta(before, after, "keyspace_misses")}; app hits ${appHits} misses ${appMisses}; keys ${after.keys}`,
    );
    expect(delta(before, after, "keyspace_hits")).toBe(appHits);
    expect(delta(before, after, "keyspace_misses")).toBe(appMisses);
    expect(appHits).toBeGreaterThan(100); // 20 keys, ~150 reads: most hit
    expect(after.keys).toBe(20);
    // The app's pooled connections were opened at its start, not per request.
    expect(delta(before, after, "total_connections_received")).toBe(0);
  });

  it("counts connections accepted and refused at maxclients, and the reader still reads", async () => {
    const before = await reader.read();
    expect(before.maxclients).toBe(MAXCLIENTS);
    const free = MAXCLIENTS - (before.connected_clients ?? 0);
    expect(free).toBeGreaterThan(0);
    const tries = free + 5;
    const socks: Socket[] = [];
    const replies: string[] = [];
    try {
      for (let i = 0; i < tries; i++) {
        const { sock, reply } = await ping(cache);
        socks.push(sock);
        replies.push(reply);
      }
      const after = await reader.read(); // at the cap: only a connection held from before can ask
      const accepted = replies.filter((r) => r === "PONG" || r === "+PONG").length;
      const refused = replies.filter((r) => /max number of clients/.test(r)).length;
      console.log(
        `maxclients ${MAXCLIENTS}: ${before.connected_clients} connected before; ${accepted} accepted, ${refused} refused; INFO received +${delta(before, after, "total_connections_received")} rejected +${delta(before, after, "rejected_connections")} connected ${after.connected_clients}`,
      );
      expect(accepted).toBe(free);
      expect(refused).toBe(5);
      expect(delta(before, after, "total_connections_received")).toBe(accepted);
      expect(delta(before, after, "rejected_connections")).toBe(refused);
      expect(after.connected_clients).toBe(MAXCLIENTS);
    } finally {
      for (const s of socks) s.destroy();
    }
  });

  it("evicts under maxmemory instead of refusing writes", async () => {
    const before = await reader.read();
    const value = "x".repeat(512 * 1024);
    const n = 80; // 40 MB into a 25 MB maxmemory (80 % of the 32 MB limit)
    const sock = connect(cache.port, cache.host);
    try {
      const oks = await new Promise<number>((resolve, reject) => {
        let buf = "";
        const timer = setTimeout(() => reject(new Error(`replies so far: ${buf.slice(0, 200)}`)), 15_000);
        sock.on("data", (d: Buffer) => {
          buf += d.toString();
          const lines = buf.split("\r\n").filter(Boolean);
          if (lines.length >= n) {
            clearTimeout(timer);
            resolve(lines.filter((l) => l === "+OK").length);
          }
        });
        sock.on("error", reject);
        sock.on("connect", () => {
          for (let i = 0; i < n; i++) {
            const key = `big:${i}`;
            sock.write(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`);
          }
        });
      });
      const after = await reader.read();
      console.log(
        `maxmemory ${after.maxmemory}: ${oks}/${n} SETs ok, evicted +${delta(before, after, "evicted_keys")}, used ${after.used_memory}`,
      );
      expect(oks).toBe(n);
      expect(after.maxmemory).toBe(25 * 2 ** 20);
      expect(delta(before, after, "evicted_keys")).toBeGreaterThan(20);
      expect(after.used_memory).toBeLessThanOrEqual((after.maxmemory ?? 0) * 1.1);
    } finally {
      sock.destroy();
      // Give the memory back: at ~25 MB used in its 32 MB limit, the next test's 4 MB memory hog
      // had the kernel OOM-kill Redis (a CI run beside a CPU hog: "container … is not running").
      const keys = Array.from({ length: n }, (_, i) => `big:${i}`);
      expect(await commands(cache, [`DEL ${keys.join(" ")}`, "MEMORY PURGE"])).toEqual([expect.stringMatching(/^:\d+$/), "+OK"]);
    }
  });

  it("process faults act on it: pause freezes it, pressure runs inside it, a kill loses its data and the reader reconnects", async () => {
    const paused = await apply({ kind: "pause", service: "cache" });
    const frozen = await pong(cache, 1000);
    await paused.revert?.();
    expect(frozen).toBeNull();
    expect(await pong(cache)).toBe("+PONG");

    // Pressure from inside needs only the image's sh: it runs in Redis's container.
    for (const f of [
      { kind: "memory-hog", service: "cache", size: "4m" },
      { kind: "cpu-stress", service: "cache", workers: 1 },
    ]) {
      const a = await apply(f);
      expect((a.detail.pids as number[]).length).toBeGreaterThan(0);
      await a.revert?.();
    }

    // a key of its own to lose (the eviction test before this one leaves the cache empty)
    expect(await commands(cache, ["SET kept-until-the-kill 1"])).toEqual(["+OK"]);
    const before = await reader.read();
    expect(before.keys).toBeGreaterThan(0);
    await apply({ kind: "kill", service: "cache", signal: "SIGKILL" });
    // The kill returns once the signal is sent: a read may still be answered just before it lands.
    const lost = await until(
      () =>
        reader.read().then(
          () => false,
          () => true,
        ),
      (failed) => failed,
      5000,
    );
    expect(lost).toBe(true);
    // The reader can fail while the engine still reports the container running (the process is
    // dying); a start then finds nothing to start (a CI run: []). Wait for the engine to see it down.
    const down = await until(
      () => t.runtime.state("cache", 1),
      (st) => !st.running,
      5000,
    );
    expect(down.running).toBe(false);
    const started = await apply({ kind: "start", service: "cache" });
    expect(started.detail.containers).toEqual(["cache-1"]);
    cache = await t.ep("cache"); // re-published on a new port
    const after = await until(
      () => reader.read(),
      () => true,
      10_000,
    );
    console.log(
      `kill/start: keys ${before.keys} → ${after.keys}, connections received ${before.total_connections_received} → ${after.total_connections_received}`,
    );
    expect(after.keys).toBe(0); // no persistence: it comes back empty, as memcached does
    expect(after.total_connections_received).toBeLessThan(before.total_connections_received ?? 0);
  });
});
