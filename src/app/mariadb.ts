// MariaDB/MySQL driver (DATABASE_URL mysql:// or mariadb://) for db.ts's Database, the same contract as
// Postgres: start-up schema/seed, a pool warmed before load, and the bounded read the request path
// uses, whose declared CPU cost is spent by the server (BENCHMARK iterations, calibrated by the
// harness per CPU-ms as Postgres's generate_series rows are). mysql2: the maintained MySQL client
// for Node (promise API, pools, per-query timeouts, TypeScript types; mysqljs/mysql is unmaintained).
import { createHash } from "node:crypto";
import mysql from "mysql2/promise";
import type { DatabaseDriver } from "./db.js";
import { TimeoutError, errorMessage } from "./timeout.js";

const SEED_BATCH = 1000;
const CLIENT_GRACE_MS = 1000;

/** MariaDB/MySQL through mysql2; the password is MYSQL_PWD's (as the mysql client reads it) when the URL has none. */
export function mariadbDriver(url: string, password = process.env.MYSQL_PWD): DatabaseDriver<mysql.Pool> {
  const u = new URL(url);
  const conn: mysql.ConnectionOptions = {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")),
    ...(u.password ? { password: decodeURIComponent(u.password) } : password !== undefined ? { password } : {}),
  };
  return {
    name: "mariadb",
    makePool({ poolSize, queryTimeoutMs }, report) {
      const pool = mysql.createPool({
        ...conn,
        connectionLimit: poolSize,
        maxIdle: poolSize,
        idleTimeout: 10_000,
        waitForConnections: true,
        queueLimit: 0,
        connectTimeout: Math.max(1000, Math.ceil(queryTimeoutMs)),
        enableKeepAlive: true,
      });
      // An idle pooled connection that dies (server restarted, link cut) is reported here; without a
      // listener it would crash the process. The pool drops that connection by itself.
      pool.on("connection", (c) => {
        c.on("error", (err) => report(`connection error: ${errorMessage(err)}`));
      });
      return pool;
    },
    endPool: (pool) => pool.end(),
    connect: (pool) => pool.getConnection(),
    /** GET_LOCK serialises replicas. */
    async initOnce(keys, connectTimeoutMs) {
      const c = await mysql.createConnection({ ...conn, connectTimeout: connectTimeoutMs });
      c.on("error", () => {}); // reported through the failing query instead
      try {
        await c.query("SELECT GET_LOCK('cascade-init', 30)");
        await c.query("CREATE TABLE IF NOT EXISTS items (id INT PRIMARY KEY, payload TEXT)");
        for (let from = 0; from < keys; from += SEED_BATCH) {
          const rows = Array.from({ length: Math.min(SEED_BATCH, keys - from) }, (_, i) => {
            const g = from + i;
            return [g, `item-${g}-${createHash("md5").update(String(g)).digest("hex")}`];
          });
          await c.query("INSERT IGNORE INTO items (id, payload) VALUES ?", [rows]);
        }
        await c.query("SELECT RELEASE_LOCK('cascade-init')");
      } finally {
        c.destroy();
      }
    },
    async read(pool, id, opts, ms, gaveUp) {
      const c = await pool.getConnection();
      if (gaveUp()) {
        c.release(); // the caller has moved on: do not run a read nobody waits for
        throw new TimeoutError("gave up waiting for a pooled connection");
      }
      try {
        // The server's bound is the whole query timeout, as Postgres's statement_timeout: bounded by
        // the time left instead, reads that waited in the pool started with a few ms, were stopped
        // half done, and a database behind its backlog spent its CPU on reads nobody got (measured:
        // ~90 of 100 statements/s stopped, no recovery after the cache came back). This side's
        // timeout, a second later, is for a server that does not answer at all.
        const q = mariadbItemQuery(id, opts.queryCost ?? 0, opts.queryLatencyMs ?? 0, ms);
        const [rows] = await c.query({ ...q, timeout: ms + CLIENT_GRACE_MS });
        c.release();
        return rows as Array<{ payload: string | null }>;
      } catch (e) {
        // A statement stopped by the server (max_statement_time) leaves a usable connection, as
        // Postgres's statement_timeout does; a fatal error or this side's timeout (the statement
        // may still run) does not: that connection is not reused.
        const err = e as { fatal?: boolean; code?: string };
        if (err.fatal || err.code === "PROTOCOL_SEQUENCE_TIMEOUT") c.destroy();
        else c.release();
        throw e;
      }
    },
  };
}

/**
 * The read of one item on MariaDB. The server stops it at the query timeout (max_statement_time, as
 * Postgres's statement_timeout; counted in Max_statement_time_exceeded; it does stop BENCHMARK and
 * SLEEP). The optional cost and latency are in the select list, evaluated once for the one row:
 * BENCHMARK burns CPU, SLEEP holds the connection. Not as a sub-select in WHERE, as on Postgres:
 * MariaDB 10.11 evaluates that one about five times (measured: 3.7 s against 0.74 s for a bare
 * BENCHMARK of 10^6, the select-list form 0.82 s), so a read would cost five times its declared CPU.
 */
export function mariadbItemQuery(id: number, cost: number, latencyMs: number, timeoutMs: number): { sql: string; values: number[] } {
  const cols = ["payload"];
  const values: number[] = [];
  if (cost > 0) {
    cols.push("BENCHMARK(?, MD5('cascade')) AS cost");
    values.push(Math.round(cost));
  }
  if (latencyMs > 0) {
    cols.push("SLEEP(?) AS slept");
    values.push(latencyMs / 1000);
  }
  values.push(id);
  const seconds = Math.max(0.001, timeoutMs / 1000);
  return { sql: `SET STATEMENT max_statement_time=${seconds.toFixed(3)} FOR SELECT ${cols.join(", ")} FROM items WHERE id = ?`, values };
}

export const isMysqlUrl = (url: string) => /^(mysql|mariadb):\/\//.test(url);
