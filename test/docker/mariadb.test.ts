// MariaDB as a database kind, on a real server: this run's password and no other, the reference
// app reading through it, and the harness's reader of its status counters following what clients
// really did — statements (its own taken off) and connections refused at max_connections.
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MariadbReader } from "../../src/observe/sources/mariadb.js";
import { load, type Topology, topology, until } from "./topology.js";

describe("mariadb kind", () => {
  let t: Topology;
  let reader: MariadbReader;
  beforeAll(async () => {
    // No cache: each request is one read of the database. max_connections 10 (MariaDB's least).
    t = await topology(`
name: mariadb
services:
  app: { kind: app, config: { keys: 20, dbPoolSize: 2 } }
  db: { kind: mariadb, connections: 10, memory: 256m }
links:
  - { from: app, to: db, proxy: false }
load: { target: app, phases: [{ duration: 1s, rate: 1 }] }`);
    reader = new MariadbReader(() => t.ep("db"), t.runtime.dbPassword);
    await reader.open();
  }, 60_000);
  afterAll(async () => {
    await reader?.close();
    await t?.down();
  });

  const login = async (password: string | undefined) => {
    const ep = await t.ep("db");
    try {
      const c = await mysql.createConnection({
        host: ep.host,
        port: ep.port,
        user: "cascade",
        database: "cascade",
        connectTimeout: 5000,
        ...(password !== undefined ? { password } : {}),
      });
      c.on("error", () => {});
      return c;
    } catch (e) {
      return (e as Error).message;
    }
  };

  it("takes this run's password only, and the plan never holds it", async () => {
    const ok = await login(t.runtime.dbPassword);
    if (typeof ok === "string") throw new Error(ok);
    const [rows] = await ok.query("SELECT 1 AS one");
    expect((rows as Array<{ one: number }>)[0]?.one).toBe(1);
    ok.destroy();
    expect(await login("not-the-password")).toMatch(/Access denied/);
    expect(await login(undefined)).toMatch(/Access denied/);
    expect(JSON.stringify(t.plan)).not.toContain(t.runtime.dbPassword);
    expect(t.plan.containers.find((c) => c.service === "app")?.env.DATABASE_URL).toMatch(/^mysql:\/\/cascade@db:3306\/cascade$/);
  });

  it("counts the app's reads as Questions, the reader's own taken off", async () => {
    const before = await reader.read();
    const r = await load(await t.ep("app"), "/", [{ duration: 2000, rate: 40 }]);
    const after = await reader.read();
    expect(r.totals.s2xx).toBeGreaterThan(70);
    // one statement per read, nothing else: the reader's two reads are not in the count
    expect(after.questions - before.questions).toBe(r.totals.s2xx);
    console.log(`mariadb: ${r.totals.s2xx} reads, Questions +${after.questions - before.questions}`);
  });

  it("counts connections and refusals at max_connections", async () => {
    const before = await reader.read();
    expect(before.max_connections).toBe(10);
    const held: mysql.Connection[] = [];
    const refused: string[] = [];
    for (let i = 0; i < 12; i++) {
      const c = await login(t.runtime.dbPassword);
      if (typeof c === "string") refused.push(c);
      else held.push(c);
    }
    const during = await reader.read();
    for (const c of held) c.destroy();
    // the app's pool, this reader and the test's connections share the 10
    expect(refused.length).toBe(5); // of 12: the 10 less the reader and the app pool's 2 leave 7

    expect(refused[0]).toMatch(/Too many connections/);
    expect(during.threads_connected).toBe(9); // 10 less the reader's own
    // MariaDB counts a refusal at max_connections as an aborted connect
    expect(during.aborted_connects - before.aborted_connects).toBe(refused.length);
    expect(during.connections - before.connections).toBe(12);
    console.log(
      `mariadb: ${held.length} held, ${refused.length} refused; Connections +${during.connections - before.connections}, ` +
        `Connection_errors_max_connections +${during.connection_errors_max_connections - before.connection_errors_max_connections}, ` +
        `Aborted_connects +${during.aborted_connects - before.aborted_connects}`,
    );
  });

  it("is killed like a crash, comes back with this run's password, and the reader follows it", async () => {
    const before = await reader.read();
    await t.runtime.kill("db", undefined, "SIGKILL");
    // the signal is sent from the host: the engine sees the exit a moment later (start() passes
    // over a container it still sees running)
    await until(
      () => t.runtime.state("db", 1),
      (st) => !st.running,
      10_000,
    );
    await expect(reader.read()).rejects.toThrow();
    await t.runtime.start("db", undefined); // waits for the handshake again
    const after = await reader.read();
    expect(after.uptime_s).toBeLessThan(before.uptime_s + 5);
    // a new server counts from zero; of its statements none is a client's yet
    expect(after.questions).toBe(0);
    // the app's pool reconnects by itself, and each read is one statement again
    const r = await load(await t.ep("app"), "/", [{ duration: 1000, rate: 20 }]);
    const later = await reader.read();
    expect(r.totals.s2xx).toBeGreaterThan(15);
    expect(later.questions - after.questions).toBe(r.totals.s2xx);
  });

  it("pauses (frozen: the reader times out) and thaws, and takes a CPU limit while running", async () => {
    await t.runtime.pause("db", undefined, true);
    await expect(reader.read()).rejects.toThrow();
    await t.runtime.pause("db", undefined, false);
    expect((await reader.read()).threads_connected).toBeGreaterThanOrEqual(0);
    const had = await t.runtime.update("db", 1, { cpus: 0.25 });
    expect(had.cpus ?? 0).toBe(0);
    await t.runtime.update("db", 1, { cpus: 0 });
    const r = await load(await t.ep("app"), "/", [{ duration: 1000, rate: 20 }]);
    expect(r.totals.s2xx).toBeGreaterThan(15);
  });
});
