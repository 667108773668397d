// Postgres access: start-up schema/seed, and the bounded read the request path uses.
import pg from "pg";
import { TimeoutError, errorMessage, sleep, withDeadline } from "./timeout.js";

/** Key of the advisory lock serialising schema creation and seeding across replicas. */
const INIT_LOCK_KEY = 0x636173; // "cas"
const INIT_RETRY_MS = 500;

export interface DatabaseOptions {
  poolSize: number;
  /** Hard bound on one read: waiting for a pooled connection plus the query, ms. */
  queryTimeoutMs: number;
  /** Rows of generate_series counted per read, to cost real database CPU (0 = cheap). */
  queryCost?: number;
  log?: (line: string) => void;
}

export class Database {
  readonly pool: pg.Pool;
  private readonly log: (line: string) => void;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly opts: DatabaseOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize,
      // Inner timeouts no longer than the outer deadline, so a read that was given up also
      // releases its pool slot / connection: a timed-out query makes pg-pool destroy the client,
      // and statement_timeout makes the server cancel the query.
      connectionTimeoutMillis: Math.ceil(opts.queryTimeoutMs),
      query_timeout: Math.ceil(opts.queryTimeoutMs),
      statement_timeout: Math.ceil(opts.queryTimeoutMs),
      idleTimeoutMillis: 10_000,
      keepAlive: true,
      application_name: "cascade-app",
    });
    // An idle pooled connection that dies (Postgres restarted, link cut) is reported here; without
    // a listener it would crash the process. The pool drops that connection by itself.
    let lastLogged = 0;
    this.pool.on("error", (err) => {
      if (Date.now() - lastLogged > 5000) {
        lastLogged = Date.now();
        this.log(`postgres: idle connection error: ${errorMessage(err)}`);
      }
    });
  }

  /**
   * Creates `items` and seeds ids [0, keys), safe when several replicas start together (a
   * transaction-scoped advisory lock; existing rows are kept). Retries every 500 ms while the
   * database cannot be reached or fails, and rejects after `timeoutMs`.
   */
  async init(keys: number, timeoutMs: number): Promise<void> {
    const start = Date.now();
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        await this.initOnce(keys, Math.max(250, Math.min(5000, timeoutMs - (Date.now() - start))));
        this.log(`postgres: table items ready with ${keys} keys (attempt ${attempts})`);
        return;
      } catch (e) {
        if (this.closed) throw new Error("database closed during start-up");
        const elapsed = Date.now() - start;
        if (elapsed + INIT_RETRY_MS > timeoutMs) {
          throw new Error(`postgres not ready after ${attempts} attempts in ${elapsed} ms: ${errorMessage(e)}`);
        }
        if (attempts === 1 || attempts % 10 === 0) {
          this.log(`postgres: start-up attempt ${attempts} failed (${errorMessage(e)}); retrying every ${INIT_RETRY_MS} ms`);
        }
        await sleep(INIT_RETRY_MS);
      }
    }
  }

  private async initOnce(keys: number, connectTimeoutMs: number): Promise<void> {
    // A client of its own, not the pool: seeding many keys may take longer than statement_timeout.
    const client = new pg.Client({
      connectionString: this.url,
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
  }

  /** The payload of item `id`, or null if there is no such row. Rejects within queryTimeoutMs. */
  async getPayload(id: number): Promise<string | null> {
    const res = await withDeadline(
      this.pool.query<{ payload: string | null }>(
        this.opts.queryCost
          ? {
              name: "cascade_get_item_costly",
              text: "SELECT payload FROM items WHERE id=$1 AND (SELECT count(*) FROM generate_series(1, $2::int)) >= 0",
              values: [id, this.opts.queryCost],
            }
          : { name: "cascade_get_item", text: "SELECT payload FROM items WHERE id=$1", values: [id] },
      ),
      this.opts.queryTimeoutMs,
      "postgres query",
    );
    const row = res.rows[0];
    if (!row) return null;
    return row.payload ?? "";
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await withDeadline(this.pool.end(), 2000, "closing the postgres pool").catch((e: unknown) => {
      if (!(e instanceof TimeoutError)) throw e;
    });
  }
}
