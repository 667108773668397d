// Postgres load as the database itself counts it: transactions (commits + rollbacks, one per
// autocommit query), backends active and waiting, from pg_stat_database and pg_stat_activity.
import pg from "pg";
import type { Endpoint } from "../../runtime/types.js";

export interface PostgresStats {
  xact_commit: number;
  xact_rollback: number;
  /** backends running a query right now (not counting this one) */
  active: number;
  /** active backends waiting on a lock or I/O event */
  waiting: number;
  backends: number;
}

const QUERY = `
  SELECT (SELECT sum(xact_commit) FROM pg_stat_database)::float8 AS xact_commit,
         (SELECT sum(xact_rollback) FROM pg_stat_database)::float8 AS xact_rollback,
         count(*) FILTER (WHERE state = 'active' AND pid <> pg_backend_pid())::float8 AS active,
         count(*) FILTER (WHERE state = 'active' AND wait_event IS NOT NULL AND wait_event_type <> 'Activity'
                          AND pid <> pg_backend_pid())::float8 AS waiting,
         count(*) FILTER (WHERE backend_type = 'client backend')::float8 AS backends
  FROM pg_stat_activity`;

/** A small reader holding one connection. Other backends publish their counters when a
 * transaction ends at least 1 s after their last flush, or after 10 s idle (Postgres 15), so the
 * transaction counters lag: read them again after that long to see a finished load whole. */
export class PostgresReader {
  private client: pg.Client | undefined;

  constructor(
    private readonly ep: Endpoint,
    /** the run's password of the `cascade` role (Runtime.dbPassword) */
    private readonly password: string,
    private readonly timeoutMs = 1000,
  ) {}

  async read(): Promise<PostgresStats> {
    if (!this.client) {
      const c = new pg.Client({
        host: this.ep.host,
        port: this.ep.port,
        user: "cascade",
        password: this.password,
        database: "cascade",
        connectionTimeoutMillis: this.timeoutMs,
        query_timeout: this.timeoutMs,
      });
      c.on("error", () => {
        this.client = undefined;
      });
      await c.connect();
      this.client = c;
    }
    try {
      const r = await this.client.query<PostgresStats>(QUERY);
      return r.rows[0] as PostgresStats;
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
