// Database access: start-up schema/seed, a pool warmed before load, and the bounded read the request
// path uses. One pool owner (Database) over a driver: Postgres here, MariaDB in mariadb.ts.
import pg from "pg";
import { TimeoutError, errorMessage, sleep, withDeadline } from "./timeout.js";

/** Per-session work_mem of every connection that runs the costly read; the calibration uses the same. */
export const WORK_MEM_OPTION = "-c work_mem=64MB";

/** Key of the advisory lock serialising schema creation and seeding across replicas. */
const INIT_LOCK_KEY = 0x636173; // "cas"
const INIT_RETRY_MS = 500;

/** Read at each use, so an options object with getters can follow live settings; a change of
 * poolSize or queryTimeoutMs takes effect at `reconfigure()` (a new pool). */
export interface DatabaseOptions {
  readonly poolSize: number;
  /** Hard bound on one read: waiting for a pooled connection plus the query, ms. */
  readonly queryTimeoutMs: number;
  /** Rows of generate_series counted per read, to cost real database CPU (0 = cheap). */
  readonly queryCost?: number;
  /** pg_sleep per read, ms: holds the connection without costing CPU (0 = none). */
  readonly queryLatencyMs?: number;
  log?: (line: string) => void;
}

/** The pool a database is read through at one moment: its driver's pool and the shape it was made with. */
export interface PoolShape {
  readonly poolSize: number;
  readonly queryTimeoutMs: number;
}

/** What the request path and start-up use of a database (Postgres or MariaDB: one Database, two drivers). */
export type Store = Pick<Database, "init" | "warm" | "reconfigure" | "getPayload" | "close">;

/**
 * What differs between Postgres (pg) and MariaDB (mysql2): how a pool is made, ended and lent from,
 * how the schema is seeded and how one item is read. The pool's life (a new pool on reconfigure,
 * the old one ended when its reads are over), start-up retries, warming and the read's deadline
 * are the Database's.
 */
export interface DatabaseDriver<P> {
  /** in log lines and errors: "postgres", "mariadb" */
  readonly name: string;
  /** `report(what)` for an error on an idle pooled connection, which must not crash the process */
  makePool(shape: PoolShape, report: (what: string) => void): P;
  endPool(pool: P): Promise<void>;
  /** a pooled connection, held until release() */
  connect(pool: P): Promise<{ release(): void }>;
  /** Creates `items` and seeds ids [0, keys) once, serialised across replicas. */
  initOnce(keys: number, connectTimeoutMs: number): Promise<void>;
  /** The rows for item `id`; `gaveUp()` turns true once the caller's deadline has passed. */
  read(pool: P, id: number, opts: DatabaseOptions, timeoutMs: number, gaveUp: () => boolean): Promise<Array<{ payload: string | null }>>;
}

/** One owner of a database pool, whatever the driver. */
export class Database<P = unknown> {
  private current: P;
  private poolShape: PoolShape;
  private readonly log: (line: string) => void;
  private lastLogged = 0;
  private closed = false;
  private readonly retired = new Set<Promise<void>>();

  constructor(
    private readonly driver: DatabaseDriver<P>,
    private readonly opts: DatabaseOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.poolShape = { poolSize: opts.poolSize, queryTimeoutMs: opts.queryTimeoutMs };
    this.current = this.makePool();
  }

  get pool(): P {
    return this.current;
  }

  private makePool(): P {
    return this.driver.makePool(this.poolShape, (what) => {
      if (Date.now() - this.lastLogged > 5000) {
        this.lastLogged = Date.now();
        this.log(`${this.driver.name}: ${what}`);
      }
    });
  }

  /**
   * Applies a changed poolSize / queryTimeoutMs: new reads use a new pool; the old one is ended
   * once the reads using it are over (both drivers' end() wait for checked-out connections).
   */
  reconfigure(): void {
    const { poolSize, queryTimeoutMs } = this.opts;
    if (this.closed || (poolSize === this.poolShape.poolSize && queryTimeoutMs === this.poolShape.queryTimeoutMs)) return;
    const old = this.current;
    this.poolShape = { poolSize, queryTimeoutMs };
    this.current = this.makePool();
    const ending = this.driver.endPool(old).catch(() => {});
    this.retired.add(ending);
    void ending.then(() => this.retired.delete(ending));
  }

  /**
   * Creates `items` and seeds ids [0, keys), safe when several replicas start together (existing
   * rows are kept). Retries every 500 ms while the database cannot be reached or fails, and
   * rejects after `timeoutMs`.
   */
  async init(keys: number, timeoutMs: number): Promise<void> {
    const name = this.driver.name;
    const start = Date.now();
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        await this.driver.initOnce(keys, Math.max(250, Math.min(5000, timeoutMs - (Date.now() - start))));
        this.log(`${name}: table items ready with ${keys} keys (attempt ${attempts})`);
        return;
      } catch (e) {
        if (this.closed) throw new Error("database closed during start-up");
        const elapsed = Date.now() - start;
        if (elapsed + INIT_RETRY_MS > timeoutMs) {
          throw new Error(`${name} not ready after ${attempts} attempts in ${elapsed} ms: ${errorMessage(e)}`);
        }
        if (attempts === 1 || attempts % 10 === 0) {
          this.log(`${name}: start-up attempt ${attempts} failed (${errorMessage(e)}); retrying every ${INIT_RETRY_MS} ms`);
        }
        await sleep(INIT_RETRY_MS);
      }
    }
  }

  /**
   * Opens the pool's connections now, one after another, and hands them back: a cold pool met by
   * the first second of load opens them all at once, and a CPU-limited database then answers the
   * first reads past their timeout — a retry storm before any fault. Best effort: it stops at the
   * first connection that fails (the pool opens the rest on demand, as it would have).
   */
  async warm(): Promise<number> {
    const pool = this.current;
    const held: Array<{ release(): void }> = [];
    try {
      for (let i = 0; i < this.poolShape.poolSize; i++) held.push(await this.driver.connect(pool));
    } catch (e) {
      this.log(`${this.driver.name}: warmed ${held.length} of ${this.poolShape.poolSize} pool connections (${errorMessage(e)})`);
    } finally {
      for (const c of held) c.release();
    }
    return held.length;
  }

  /** The payload of item `id`, or null if there is no such row. Rejects within queryTimeoutMs. */
  async getPayload(id: number): Promise<string | null> {
    const ms = this.poolShape.queryTimeoutMs;
    let gaveUp = false;
    try {
      const rows = await withDeadline(
        this.driver.read(this.current, id, this.opts, ms, () => gaveUp),
        ms,
        `${this.driver.name} query`,
      );
      const row = rows[0];
      if (!row) return null;
      return row.payload ?? "";
    } catch (e) {
      gaveUp = true;
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await withDeadline(
      Promise.all([this.driver.endPool(this.current), ...this.retired]),
      2000,
      `closing the ${this.driver.name} pool`,
    ).catch((e: unknown) => {
      if (!(e instanceof TimeoutError)) throw e;
    });
  }
}

/** Postgres through pg. */
export function postgresDriver(url: string): DatabaseDriver<pg.Pool> {
  return {
    name: "postgres",
    makePool({ poolSize, queryTimeoutMs }, report) {
      const pool = new pg.Pool({
        connectionString: url,
        max: poolSize,
        // Inner timeouts no longer than the outer deadline, so a read that was given up also
        // releases its pool slot / connection: a timed-out query makes pg-pool destroy the client,
        // and statement_timeout makes the server cancel the query.
        connectionTimeoutMillis: Math.ceil(queryTimeoutMs),
        query_timeout: Math.ceil(queryTimeoutMs),
        statement_timeout: Math.ceil(queryTimeoutMs),
        idleTimeoutMillis: 10_000,
        keepAlive: true,
        application_name: "cascade-app",
        // The costly read's generate_series is materialized; past work_mem (4 MB by default, ~80k
        // rows) it spills to disk and a row costs twice the CPU. Room for it keeps the cost linear
        // in rows, as the harness's calibration (which sets the same) assumes.
        options: WORK_MEM_OPTION,
      });
      // An idle pooled connection that dies (Postgres restarted, link cut) is reported here; without
      // a listener it would crash the process. The pool drops that connection by itself.
      pool.on("error", (err) => report(`idle connection error: ${errorMessage(err)}`));
      return pool;
    },
    endPool: (pool) => pool.end(),
    connect: (pool) => pool.connect(),
    async initOnce(keys, connectTimeoutMs) {
      // A client of its own, not the pool: seeding many keys may take longer than statement_timeout.
      // A transaction-scoped advisory lock serialises replicas.
      const client = new pg.Client({
        connectionString: url,
        connectionTimeoutMillis: connectTimeoutMs,
        application_name: "cascade-app-init",
      });
      client.on("error", () => {}); // reported through the failing query instead
      try {
        await client.connect();
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1)", [INIT_LOCK_KEY]);
        await client.query("CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, payload text)");
        await client.query(
          `INSERT INTO items (id, payload)
             SELECT g, 'item-' || g || '-' || md5(g::text) FROM generate_series(0, $1::int - 1) AS g
           ON CONFLICT (id) DO NOTHING`,
          [keys],
        );
        await client.query("COMMIT");
      } finally {
        await client.end().catch(() => {});
      }
    },
    async read(pool, id, opts) {
      const res = await pool.query<{ payload: string | null }>(itemQuery(id, opts.queryCost ?? 0, opts.queryLatencyMs ?? 0));
      return res.rows;
    },
  };
}

/**
 * The read of one item. The optional cost and latency are uncorrelated sub-selects, which Postgres
 * runs once per query as a one-time filter (found row or not): `generate_series` burns CPU,
 * `pg_sleep` holds the connection.
 */
export function itemQuery(id: number, cost: number, latencyMs: number): pg.QueryConfig {
  let text = "SELECT payload FROM items WHERE id=$1";
  const values: unknown[] = [id];
  let name = "cascade_get_item";
  if (cost > 0) {
    values.push(cost);
    text += ` AND (SELECT count(*) FROM generate_series(1, $${values.length}::int)) >= 0`;
    name += "_costly";
  }
  if (latencyMs > 0) {
    values.push(latencyMs / 1000);
    text += ` AND (SELECT 1 FROM pg_sleep($${values.length}::float8)) = 1`;
    name += "_slow";
  }
  return { name, text, values };
}
