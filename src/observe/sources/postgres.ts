// Postgres load as the database itself counts it: transactions (commits + rollbacks, one per
// autocommit query) and sessions opened (connection churn) from pg_stat_database, backends active
// and waiting from pg_stat_activity, and — where pg_stat_statements is loaded, as in Cascade's own
// Postgres — statements executed and their execution time (the service time queuing is measured
// against). Nothing here needs the app's help.
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
  /** sessions established since the stats reset (Postgres 14+): new connections */
  sessions?: number;
  /** sessions ended by a fatal error (e.g. too many clients), killed by an operator, or abandoned by the client */
  sessions_fatal?: number;
  sessions_killed?: number;
  sessions_abandoned?: number;
  /** pg_stat_statements: statements executed by others than this reader, and their total execution time */
  calls?: number;
  exec_ms?: number;
}

const QUERY = `
  SELECT (SELECT sum(xact_commit) FROM pg_stat_database)::float8 AS xact_commit,
         (SELECT sum(xact_rollback) FROM pg_stat_database)::float8 AS xact_rollback,
         (SELECT sum(sessions) FROM pg_stat_database)::float8 AS sessions,
         (SELECT sum(sessions_fatal) FROM pg_stat_database)::float8 AS sessions_fatal,
         (SELECT sum(sessions_killed) FROM pg_stat_database)::float8 AS sessions_killed,
         (SELECT sum(sessions_abandoned) FROM pg_stat_database)::float8 AS sessions_abandoned,
         count(*) FILTER (WHERE state = 'active' AND pid <> pg_backend_pid())::float8 AS active,
         count(*) FILTER (WHERE state = 'active' AND wait_event IS NOT NULL AND wait_event_type <> 'Activity'
                          AND pid <> pg_backend_pid())::float8 AS waiting,
         count(*) FILTER (WHERE backend_type = 'client backend')::float8 AS backends
  FROM pg_stat_activity`;

/** The same with pg_stat_statements' figures, in the same statement: one transaction per reading,
 * which the analysis takes off the database's count. Its own statements (and calibration's) read
 * pg_stat_* or generate series: left out. */
const QUERY_WITH_STATEMENTS = QUERY.replace(
  "FROM pg_stat_activity",
  `, (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
      WHERE query NOT LIKE '%pg_stat%' AND query NOT LIKE '%generate_series%')::float8 AS calls,
    (SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements
      WHERE query NOT LIKE '%pg_stat%' AND query NOT LIKE '%generate_series%')::float8 AS exec_ms
  FROM pg_stat_activity`,
);

/** A small reader holding one connection. Other backends publish their counters when a
 * transaction ends at least 1 s after their last flush, or after 10 s idle (Postgres 15), so the
 * transaction counters lag: read them again after that long to see a finished load whole. */
export class PostgresReader {
  private client: pg.Client | undefined;
  /** pg_stat_statements answers on this server */
  private statements = false;

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
      // Loaded at start-up (shared_preload_libraries) by Cascade's Postgres; elsewhere it may not be.
      this.statements = await c
        .query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .then(() => c.query(QUERY_WITH_STATEMENTS))
        .then(
          () => true,
          () => false,
        );
      this.client = c;
    }
    try {
      const r = (await this.client.query<PostgresStats>(this.statements ? QUERY_WITH_STATEMENTS : QUERY)).rows[0] as PostgresStats;
      // Before Postgres 14 there are no session counters: leave them out rather than report 0.
      for (const k of ["sessions", "sessions_fatal", "sessions_killed", "sessions_abandoned"] as const) if (r[k] === null) delete r[k];
      return r;
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
