// MariaDB/MySQL load as the server itself counts it (SHOW GLOBAL STATUS / VARIABLES, read through
// information_schema in one statement): statements from clients (Questions, less this reader's
// own), connection attempts (Connections), attempts refused at max_connections
// (Aborted_connects on MariaDB, Connection_errors_max_connections on MySQL), statements stopped
// by max_statement_time, and threads connected and running. Nothing here needs the app's help.
import mysql from "mysql2/promise";
import type { Endpoint } from "../../runtime/types.js";

export interface MariadbStats {
  /** Questions less this reader's own statements: what clients asked of the server */
  questions: number;
  /** Connections: connection attempts, successful or not (this reader's included) */
  connections: number;
  /** Aborted_connects: attempts that failed (bad password, handshake timeout, and on MariaDB 10.11
   * a refusal at max_connections: measured, 12 clients at max 10 moved it by 2) */
  aborted_connects: number;
  /** Connection_errors_max_connections: attempts refused at max_connections as MySQL counts them
   * (MariaDB 10.11 leaves it at 0 and counts them in Aborted_connects) */
  connection_errors_max_connections: number;
  /** Aborted_clients: connections that died without a proper close (a client killed or timed out) */
  aborted_clients: number;
  /** Max_statement_time_exceeded: statements the server stopped at their time limit */
  max_statement_time_exceeded: number;
  /** Threads_connected less this reader */
  threads_connected: number;
  /** Threads_running less this reader (its own statement is running as it reads) */
  active: number;
  max_connections: number;
  uptime_s: number;
}

const STATUS = [
  "QUESTIONS",
  "CONNECTIONS",
  "ABORTED_CONNECTS",
  "CONNECTION_ERRORS_MAX_CONNECTIONS",
  "ABORTED_CLIENTS",
  "MAX_STATEMENT_TIME_EXCEEDED",
  "THREADS_CONNECTED",
  "THREADS_RUNNING",
  "UPTIME",
];

/** One statement, so each reading adds exactly one to Questions (taken off below). */
const QUERY = `SELECT VARIABLE_NAME AS k, VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS
  WHERE VARIABLE_NAME IN (${STATUS.map((s) => `'${s}'`).join(", ")})
  UNION ALL SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'MAX_CONNECTIONS'`;

/** A reader holding one connection for the whole run, opened as soon as the server is up (before
 * the app fills max_connections: a reader connecting later would be refused with the others). It
 * reconnects after a failure (a killed and restarted server). */
export class MariadbReader {
  private conn: mysql.Connection | undefined;
  private connecting: Promise<mysql.Connection> | undefined;
  /** this reader's statements counted in the server's Questions since the server started */
  private own = 0;
  private lastUptime = -1;

  constructor(
    private readonly endpoint: () => Promise<Endpoint>,
    /** the run's password of the `cascade` user (Runtime.dbPassword) */
    private readonly password: string,
    private readonly timeoutMs = 800,
  ) {}

  /** Connects now (bounded); a failure is left for read() to retry. */
  async open(): Promise<void> {
    await this.connection();
  }

  private connection(): Promise<mysql.Connection> {
    if (this.conn) return Promise.resolve(this.conn);
    this.connecting ??= (async () => {
      const ep = await this.endpoint();
      const c = await mysql.createConnection({
        host: ep.host,
        port: ep.port,
        user: "cascade",
        password: this.password,
        database: "cascade",
        connectTimeout: Math.max(this.timeoutMs, 2000),
      });
      // An idle connection that dies (server killed) is reported here: forget it, reconnect on read.
      c.on("error", () => {
        if (this.conn === c) this.conn = undefined;
      });
      this.conn = c;
      return c;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  async read(): Promise<MariadbStats> {
    const c = await this.connection();
    try {
      this.own++;
      const [rows] = await c.query({ sql: QUERY, timeout: this.timeoutMs });
      const v: Record<string, number> = {};
      for (const r of rows as Array<{ k: string; v: string }>) v[r.k.toUpperCase()] = Number(r.v);
      const uptime = v.UPTIME ?? 0;
      // A restarted server counts from zero: of its Questions, only this connection's are ours, and
      // this connection was opened after the restart.
      if (uptime < this.lastUptime) this.own = 1;
      this.lastUptime = uptime;
      return {
        questions: Math.max(0, (v.QUESTIONS ?? 0) - this.own),
        connections: v.CONNECTIONS ?? 0,
        aborted_connects: v.ABORTED_CONNECTS ?? 0,
        connection_errors_max_connections: v.CONNECTION_ERRORS_MAX_CONNECTIONS ?? 0,
        aborted_clients: v.ABORTED_CLIENTS ?? 0,
        max_statement_time_exceeded: v.MAX_STATEMENT_TIME_EXCEEDED ?? 0,
        threads_connected: Math.max(0, (v.THREADS_CONNECTED ?? 1) - 1),
        active: Math.max(0, (v.THREADS_RUNNING ?? 1) - 1),
        max_connections: v.MAX_CONNECTIONS ?? 0,
        uptime_s: uptime,
      };
    } catch (e) {
      // A statement that timed out may still be running: this connection is not reused.
      await this.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    c?.destroy();
  }
}
