// Every fault kind on real containers: apply it, measure its effect from outside, revert it, and
// measure that the revert took effect. Network faults are measured through the Toxiproxy proxy of
// the app→cache link (its port is published on 127.0.0.1), with memcached's protocol.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../../src/runtime/docker/client.js";
import { moduleFor } from "../../src/faults/registry.js";
import { Timeline, type FaultEvent } from "../../src/faults/scheduler.js";
import type { Applied, FaultContext } from "../../src/faults/types.js";
import { Fault } from "../../src/scenario/schema.js";
import type { Endpoint } from "../../src/runtime/types.js";
import { answeredTogether, closeDelay, getValue, medianRtt, setValue, versionRtt } from "./memcached-client.js";
import { sleep, type Topology, topology, until } from "./topology.js";

let t: Topology;
let ctx: FaultContext;
let proxied: Endpoint; // memcached through the app→cache proxy
let direct: Endpoint; // memcached itself
const auth = () => ({ authorization: `Bearer ${t.runtime.adminToken}` });

beforeAll(async () => {
  t = await topology(`
name: faults
services:
  app: { kind: app, replicas: 2, config: { keys: 20 } }
  cache: { kind: memcached, restart: on-failure, memory: 256m }
  db: { kind: postgres, memory: 256m }
links:
  - { from: app, to: cache }
  - { from: app, to: db }
load: { target: app, phases: [{ duration: 1s, rate: 1 }] }`);
  ctx = { runtime: t.runtime, ...(t.toxiproxy ? { toxiproxy: t.toxiproxy } : {}) };
  const listen = Number(t.plan.proxies.find((p) => p.link === "app->cache")?.listen.split(":")[1]);
  proxied = await t.runtime.endpoint("toxiproxy", 1, listen);
  direct = await t.ep("cache");
  await setValue(direct, "big", 200_000);
}, 180_000);

afterAll(() => t?.down());

const fault = (f: Record<string, unknown>) => Fault.parse({ at: 0, ...f });
const apply = (f: Record<string, unknown>): Promise<Applied> => moduleFor(fault(f)).apply(fault(f), ctx);
const revert = async (a: Applied) => {
  await a.revert?.();
};

describe("network faults through Toxiproxy", () => {
  it("latency adds its delay within ±10 % and is gone after the revert", async () => {
    const base = (await medianRtt(proxied)) as number;
    const a = await apply({ kind: "latency", link: "app->cache", latency: "100ms" });
    const slow = (await medianRtt(proxied)) as number;
    await revert(a);
    const after = (await medianRtt(proxied)) as number;
    console.log(`latency: base ${base.toFixed(1)} ms, with 100 ms toxic ${slow.toFixed(1)} ms, after ${after.toFixed(1)} ms`);
    expect(slow - base).toBeGreaterThanOrEqual(90);
    expect(slow - base).toBeLessThanOrEqual(110);
    expect(after).toBeLessThan(base + 10);
  });

  it("bandwidth caps the transfer rate within ±10 %", async () => {
    const a = await apply({ kind: "bandwidth", link: "app->cache", rate: 100 });
    const capped = await getValue(proxied, "big");
    await revert(a);
    const free = await getValue(proxied, "big");
    const kbps = capped.bytes / 1024 / (capped.ms / 1000);
    console.log(`bandwidth: 100 KB/s toxic → ${kbps.toFixed(1)} KB/s (${capped.ms.toFixed(0)} ms); after ${free.ms.toFixed(0)} ms`);
    expect(capped.complete).toBe(true);
    expect(kbps).toBeGreaterThan(90);
    expect(kbps).toBeLessThan(110);
    expect(free.complete).toBe(true);
    expect(free.ms).toBeLessThan(200);
  });

  it("timeout (blackhole) answers nothing; the revert restores answers", async () => {
    const a = await apply({ kind: "timeout", link: "app->cache", timeout: 0 });
    const held = await versionRtt(proxied, 1000);
    await revert(a);
    expect(held).toBeNull();
    expect(await versionRtt(proxied)).not.toBeNull();
  });

  it("reset_peer resets connections; the revert restores them", async () => {
    const a = await apply({ kind: "reset_peer", link: "app->cache", timeout: 0 });
    const r = await getValue(proxied, "big", 2000);
    await revert(a);
    expect(r.complete).toBe(false);
    expect(["reset", "closed"]).toContain(r.ended);
    expect((await getValue(proxied, "big")).complete).toBe(true);
  });

  it("slow_close delays the close by its delay", async () => {
    const before = (await closeDelay(proxied)) as number;
    const a = await apply({ kind: "slow_close", link: "app->cache", delay: "500ms" });
    const slow = (await closeDelay(proxied)) as number;
    await revert(a);
    const after = (await closeDelay(proxied)) as number;
    console.log(`slow_close: ${before.toFixed(0)} → ${slow.toFixed(0)} → ${after.toFixed(0)} ms`);
    expect(slow).toBeGreaterThanOrEqual(450);
    expect(slow).toBeLessThan(650);
    expect(after).toBeLessThan(100);
  });

  it("slicer cuts the stream into small slices", async () => {
    // 200 slices of ~1 KB, 2 ms apart: they reach the client as separate reads.
    const a = await apply({ kind: "slicer", link: "app->cache", average_size: 1000, delay: "2ms" });
    const sliced = await getValue(proxied, "big");
    await revert(a);
    const whole = await getValue(proxied, "big");
    console.log(`slicer: ${sliced.chunks} chunks with the toxic, ${whole.chunks} without`);
    expect(sliced.complete).toBe(true);
    expect(sliced.chunks).toBeGreaterThan(100);
    expect(sliced.ms).toBeGreaterThan(300);
    expect(whole.chunks).toBeLessThan(sliced.chunks / 4);
  });

  it("limit_data closes the connection after its bytes", async () => {
    const a = await apply({ kind: "limit_data", link: "app->cache", bytes: 10_000 });
    const cut = await getValue(proxied, "big", 3000);
    await revert(a);
    expect(cut.complete).toBe(false);
    expect(cut.bytes).toBeLessThanOrEqual(10_000);
    expect(cut.bytes).toBeGreaterThan(0);
    expect((await getValue(proxied, "big")).complete).toBe(true);
  });

  it("partition takes the link down; the revert brings it back", async () => {
    const a = await apply({ kind: "partition", link: "app->cache" });
    const down = await versionRtt(proxied, 1000);
    await revert(a);
    expect(down).toBeNull();
    expect(await versionRtt(proxied)).not.toBeNull();
  });

  it("a toxic on a share of connections (toxicity) hits about that share", async () => {
    const a = await apply({ kind: "latency", link: "app->cache", latency: "200ms", toxicity: 0.5 });
    const rtts: number[] = [];
    for (let i = 0; i < 40; i++) rtts.push((await versionRtt(proxied)) ?? 0);
    await revert(a);
    const slow = rtts.filter((x) => x >= 190).length / rtts.length;
    console.log(`toxicity 0.5: ${(100 * slow).toFixed(0)} % of 40 connections slowed`);
    expect(slow).toBeGreaterThan(0.2);
    expect(slow).toBeLessThan(0.8);
  });
});

describe("process faults", () => {
  const state = () => t.runtime.state("cache", 1);

  it("kill is a crash: the on-failure policy restarts it and the restart is counted", async () => {
    const before = await state();
    const a = await apply({ kind: "kill", service: "cache", signal: "SIGKILL" });
    const after = await until(state, (s) => s.running && s.restartCount > before.restartCount, 15_000);
    expect(a.detail.containers).toEqual(["cache-1"]);
    expect(after.restartCount).toBe(before.restartCount + 1);
    direct = await t.ep("cache"); // a restart re-publishes on a new port
    await until(
      () => versionRtt(direct),
      (v) => v !== null,
      10_000,
    );
    await setValue(direct, "big", 200_000);
  });

  it("stop is a manual stop (no restart); start brings it back ready", async () => {
    const before = await state();
    await apply({ kind: "stop", service: "cache" });
    await sleep(1500);
    const stopped = await state();
    expect(stopped.running).toBe(false);
    expect(stopped.restartCount).toBe(before.restartCount);
    const s = await apply({ kind: "start", service: "cache" });
    expect(s.detail.containers).toEqual(["cache-1"]);
    direct = await t.ep("cache");
    expect(await versionRtt(direct)).not.toBeNull();
  });

  it("restart replaces the process", async () => {
    const pid = (await state()).pid;
    await apply({ kind: "restart", service: "cache" });
    const after = await state();
    expect(after.running).toBe(true);
    expect(after.pid).not.toBe(pid);
    direct = await t.ep("cache");
    expect(await versionRtt(direct)).not.toBeNull();
    await setValue(direct, "big", 200_000);
  });

  it("pause freezes every process (nothing answers); the revert thaws them", async () => {
    const a = await apply({ kind: "pause", service: "cache" });
    const frozen = await versionRtt(direct, 1000);
    await revert(a);
    expect(frozen).toBeNull();
    expect(await versionRtt(direct)).not.toBeNull();
  });

  it("pause with count picks that many replicas at random and records which", async () => {
    const a = await apply({ kind: "pause", service: "app", count: 1 });
    await revert(a);
    expect(a.detail.containers).toHaveLength(1);
    expect(["app-1", "app-2"]).toContain((a.detail.containers as string[])[0]);
  });

  it("crashloop kills again and again; the restart policy counts each", async () => {
    const before = await state();
    const a = await apply({ kind: "crashloop", service: "cache", every: "1500ms", duration: "10s" });
    await sleep(4000);
    const r = await a.revert?.();
    const after = await until(state, (s) => s.running, 15_000);
    console.log(`crashloop: ${JSON.stringify(r)}; restarts ${before.restartCount} → ${after.restartCount}`);
    expect(after.restartCount - before.restartCount).toBeGreaterThanOrEqual(2);
    direct = await t.ep("cache");
    await until(
      () => versionRtt(direct),
      (v) => v !== null,
      10_000,
    );
  });
});

describe("resource faults", () => {
  it("ulimit caps open files at run time: connections past it go unanswered; the revert lifts it", async () => {
    const answered = (n: number) => answeredTogether(direct, n);
    // memcached holds ~24 descriptors of its own and 8 of the apps' pools; on EMFILE it stops
    // accepting until one of its connections closes, so the cap must leave room for some of ours
    // (their close is what re-arms accept; at a cap already full, memcached would stay deaf).
    const a = await apply({ kind: "ulimit", service: "cache", nofile: 48 });
    const capped = await answered(60);
    await revert(a);
    const free = await answered(60);
    console.log(`ulimit nofile 48: ${capped}/60 connections answered; after revert ${free}/60`);
    expect(capped).toBeLessThan(40);
    expect(free).toBe(60);
  });

  /** CPU seconds the container used over `ms`, from Docker's stats. */
  async function cpuCores(service: string, ms: number): Promise<number> {
    const c = docker().getContainer(`cascade-${t.runtime.runId}-${service}-1`);
    const read = async () =>
      ((await c.stats({ stream: false })) as { cpu_stats: { cpu_usage: { total_usage: number } } }).cpu_stats.cpu_usage.total_usage;
    const a = await read();
    const t0 = performance.now();
    await sleep(ms);
    const b = await read();
    return (b - a) / 1e6 / (performance.now() - t0);
  }

  it("cpu-stress burns a core; a resources fault caps it live (docker update); reverts restore both", async () => {
    const stress = await apply({ kind: "cpu-stress", service: "db", workers: 1 });
    const busy = await cpuCores("db", 2000);
    const cap = await apply({ kind: "resources", service: "db", cpus: 0.25 });
    const capped = await cpuCores("db", 2000);
    await revert(cap);
    const uncapped = await cpuCores("db", 2000);
    await revert(stress);
    const idle = await cpuCores("db", 1500);
    console.log(
      `cpu: stress ${busy.toFixed(2)} cores, capped at 0.25 → ${capped.toFixed(2)}, cap reverted ${uncapped.toFixed(2)}, stress reverted ${idle.toFixed(2)}`,
    );
    // The machine has 2 cores shared with the harness: the loop gets most of one, not all.
    expect(busy).toBeGreaterThan(0.45);
    expect(capped).toBeGreaterThan(0.2);
    expect(capped).toBeLessThan(0.3);
    expect(uncapped).toBeGreaterThan(1.6 * capped);
    expect(idle).toBeLessThan(0.1);
  });

  /** Anonymous memory of the container's cgroup (v1 total_rss, v2 anon). Not `usage`: that counts
   * page cache too, which the kernel reclaims as the hog grows (a CI run saw 112 → 173 MB). */
  async function memoryOf(service: string): Promise<number> {
    const c = docker().getContainer(`cascade-${t.runtime.runId}-${service}-1`);
    const stats = ((await c.stats({ stream: false })) as { memory_stats: { stats?: Record<string, number> } }).memory_stats.stats ?? {};
    const anon = stats.total_rss ?? stats.rss ?? stats.anon;
    if (anon === undefined) throw new Error(`no rss/anon in the memory stats of ${service}: ${Object.keys(stats).join(", ")}`);
    return anon;
  }

  it("memory-hog holds its size against the container's cgroup; the revert frees it", async () => {
    const before = await memoryOf("db");
    const a = await apply({ kind: "memory-hog", service: "db", size: "100m" });
    const held = await until(
      () => memoryOf("db"),
      (m) => m - before > 90e6,
      10_000,
    );
    await revert(a);
    const after = await until(
      () => memoryOf("db"),
      (m) => m - before < 20e6,
      10_000,
    );
    console.log(`memory-hog: ${(before / 1e6).toFixed(0)} → ${(held / 1e6).toFixed(0)} → ${(after / 1e6).toFixed(0)} MB`);
    // 100 MiB = 104.9 MB held.
    expect(held - before).toBeGreaterThan(85e6);
    expect(after - before).toBeLessThan(20e6);
  });

  it("a memory limit lowered live, then a hog past it: the OOM kill is recorded; the revert restores the limit", async () => {
    const events: string[] = [];
    const stop = await t.runtime.watch((e) => {
      if (e.service === "db") events.push(e.action);
    });
    const a = await apply({ kind: "resources", service: "db", memory: "200m" });
    const lowered = (await docker().getContainer(`cascade-${t.runtime.runId}-db-1`).inspect()).HostConfig.Memory;
    const hog = await apply({ kind: "memory-hog", service: "db", size: "250m" });
    await until(
      async () => events,
      (e) => e.includes("oom"),
      15_000,
    );
    stop();
    await revert(hog);
    await revert(a);
    const restored = (await docker().getContainer(`cascade-${t.runtime.runId}-db-1`).inspect()).HostConfig.Memory;
    console.log(`resources memory 200m, hog 250m: events ${events.join(", ")}; limit ${lowered} → ${restored}`);
    expect(lowered).toBe(200 * 1024 * 1024);
    expect(events).toContain("oom");
    expect(restored).toBe(256 * 1024 * 1024);
  });
});

describe("app switches", () => {
  it("app sets reference-app settings on every replica at runtime and switches them back", async () => {
    const read = async (replica: number) => {
      const ep = await t.ep("app", replica);
      return (await (await fetch(`http://${ep.host}:${ep.port}/admin/config`, { headers: auth() })).json()) as Record<string, unknown>;
    };
    const a = await apply({ kind: "app", service: "app", set: { retryAttempts: 3, retryBackoff: "fixed" } });
    const during = [await read(1), await read(2)];
    await revert(a);
    const after = [await read(1), await read(2)];
    expect(a.detail.containers).toEqual(["app-1", "app-2"]);
    for (const d of during) expect(d).toMatchObject({ retryAttempts: 3, retryBackoff: "fixed" });
    for (const d of after) expect(d).toMatchObject({ retryAttempts: 1, retryBackoff: "none" });
  });

  it("an unknown setting is refused with the app's own message, and nothing is switched", async () => {
    // Replicas are switched in parallel: whichever answers first names itself in the error.
    await expect(apply({ kind: "app", service: "app", set: { retryAttempt: 3 } })).rejects.toThrow(
      /app-[12]: \/admin\/config answered 400: .*retryAttempt/,
    );
    for (const replica of [1, 2]) {
      const ep = await t.ep("app", replica);
      const cfg = (await (await fetch(`http://${ep.host}:${ep.port}/admin/config`, { headers: auth() })).json()) as Record<string, unknown>;
      expect(cfg.retryAttempts).toBe(1);
    }
  });

  it("applied on some replicas only: those are switched back and the fault fails", async () => {
    await t.runtime.stop("app", [2]);
    try {
      await expect(apply({ kind: "app", service: "app", set: { retryAttempts: 3 } })).rejects.toThrow(/app-2: .*; switched back app-1/);
      expect(
        (await (
          await fetch(`http://${(await t.ep("app", 1)).host}:${(await t.ep("app", 1)).port}/admin/config`, { headers: auth() })
        ).json()) as Record<string, unknown>,
      ).toMatchObject({ retryAttempts: 1 });
    } finally {
      await t.runtime.start("app", [2]);
    }
  });

  it("the admin API refuses a call without this run's token, and a cross-origin text/plain POST", async () => {
    const ep = await t.ep("app", 1);
    const url = `http://${ep.host}:${ep.port}/admin/config`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: "Bearer not-the-token" } })).status).toBe(401);
    // What a web page in the user's browser can send without a preflight: no token, text/plain.
    const plain = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: '{"retryAttempts":9}' });
    expect(plain.status).toBe(401);
    const cfg = (await (await fetch(url, { headers: auth() })).json()) as Record<string, unknown>;
    expect(cfg.retryAttempts).toBe(1);
  });

  it("Postgres takes this run's password only, and the plan never holds it", async () => {
    const ep = await t.ep("db");
    const tryLogin = async (password?: string) => {
      const c = new pg.Client({
        host: ep.host,
        port: ep.port,
        user: "cascade",
        database: "cascade",
        connectionTimeoutMillis: 5000,
        ...(password !== undefined ? { password } : {}),
      });
      c.on("error", () => {});
      try {
        await c.connect();
        return (await c.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one;
      } catch (e) {
        return (e as Error).message;
      } finally {
        await c.end().catch(() => {});
      }
    };
    expect(await tryLogin(t.runtime.dbPassword)).toBe(1);
    expect(await tryLogin("not-the-password")).toMatch(/password authentication failed/);
    expect(await tryLogin("")).toMatch(/password/);
    expect(JSON.stringify(t.plan)).not.toContain(t.runtime.dbPassword);
  });
});

describe("scheduling precision", () => {
  it("applies and reverts toxics and kills on time: p99 lag under 100 ms", async () => {
    const faults = [];
    for (let i = 0; i < 10; i++)
      faults.push(Fault.parse({ at: `${200 + i * 400}ms`, kind: "latency", link: "app->db", latency: "5ms", duration: "300ms" }));
    for (let i = 0; i < 4; i++) faults.push(Fault.parse({ at: `${300 + i * 1000}ms`, kind: "kill", service: "app", replica: (i % 2) + 1 }));
    const events: FaultEvent[] = [];
    const tl = new Timeline(faults, ctx, (e) => events.push(e));
    tl.start(performance.now());
    await sleep(4800);
    await tl.finish();
    const lags = events
      .filter((e) => e.action !== "error")
      .map((e) => e.lag_ms)
      .sort((a, b) => a - b);
    const p99 = lags[Math.ceil(0.99 * lags.length) - 1] as number;
    console.log(
      `scheduling: ${lags.length} actions, lag p50 ${lags[Math.floor(lags.length / 2)]} ms, p99 ${p99} ms, max ${lags.at(-1)} ms`,
    );
    expect(events.filter((e) => e.action === "error")).toEqual([]);
    expect(lags).toHaveLength(24);
    expect(p99).toBeLessThan(100);
    expect(await t.toxiproxy?.allToxics()).toEqual([]);
  });
});
