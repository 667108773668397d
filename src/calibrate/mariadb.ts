// How much MariaDB work one CPU-millisecond is on this host, measured inside the running server's
// container: the reference app's costly read on MariaDB runs BENCHMARK(n, MD5(…)), and the same n
// costs a different CPU time on a faster or slower machine. The figure (iterations per CPU-ms) is
// handed to the app as Postgres's rows are (DB_ROWS_PER_CPU_MS), so a scenario declares the same
// CPU-ms per read on either database. MariaDB runs every connection as a thread of one process:
// the probe is timed by the container's cgroup, less what the server burns idle.
import mysql from "mysql2/promise";
import type { Endpoint } from "../runtime/types.js";
import { type CalibrateOptions, calibrateProbe, type DbCalibration } from "./postgres.js";

/** The costly read's shape (src/app/db.ts mariadbItemQuery): MD5 of a short string, n times. */
export const BENCHMARK_EXPR = "MD5('cascade')";

async function connect(service: string, ep: Endpoint, password: string, signal: AbortSignal | undefined, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const c = await mysql.createConnection({
        host: ep.host,
        port: ep.port,
        user: "cascade",
        password,
        database: "cascade",
        connectTimeout: 5000,
      });
      c.on("error", () => {}); // reported through the failing query
      await c.query("SELECT 1");
      return c;
    } catch (e) {
      if (Date.now() > deadline)
        throw new Error(`calibrating ${service}: no query answered within ${timeoutMs / 1000} s: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function calibrateMariadb(service: string, ep: Endpoint, opts: CalibrateOptions): Promise<DbCalibration> {
  const c = await connect(service, ep, opts.password, opts.signal);
  try {
    return await calibrateProbe(service, {
      run: async (n) => {
        await c.query({ sql: `SELECT BENCHMARK(?, ${BENCHMARK_EXPR})`, values: [n], timeout: 30_000 });
      },
      cpuNs: opts.cpuNs,
      counter: "cgroup",
      warmUnits: 5_000,
      firstUnits: 20_000,
      ...(opts.declaredMs !== undefined ? { declaredMs: opts.declaredMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } finally {
    c.destroy();
  }
}
