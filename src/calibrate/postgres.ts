// How much Postgres work one CPU-millisecond is on this host, measured inside the running database
// container: the reference app's costly read counts generate_series rows, and the same count of
// rows costs a different CPU time on a faster or slower machine. Declared CPU time is converted
// with this figure, so a scenario puts the same load on its database everywhere.
//
// CPU time, not wall time: a CPU quota or a busy neighbour stretches the wall time of the probe but
// not the CPU it used. Read from the probing backend's own /proc entry when the host shows it (only
// the queries' work, in ns), else from the container's cgroup less what it burns idle.
import pg from "pg";
import type { Endpoint } from "../runtime/types.js";

export interface DbCalibration {
  service: string;
  /** units of the costly read per CPU-millisecond of one core, on this host: generate_series rows
   * on Postgres, BENCHMARK iterations on MariaDB (calibrate/mariadb.ts) */
  rows_per_cpu_ms: number;
  /** the probe: queries run, rows counted in all, the cgroup CPU they cost and the wall time taken */
  probe: { queries: number; rows: number; cpu_ms: number; wall_ms: number; idle_cpu_share: number; counter: "backend" | "cgroup" };
  /** the app's read at its declared cost, run after converting, and what it cost here */
  check?: { declared_ms: number; rows: number; measured_ms: number };
}

export interface CalibrateOptions {
  /** the run's password of the `cascade` role (Runtime.dbPassword) */
  password: string;
  /** CPU time the container has used so far, in ns (its cgroup); undefined when unreadable */
  cpuNs: () => Promise<number | undefined>;
  /** CPU time of the container's process with this pid (as the container sees it), in ns; undefined
   * when the host cannot show it */
  backendCpuNs?: (pid: number) => Promise<number | undefined>;
  /** declared per-read CPU of the apps reading this database (the first is checked after converting) */
  declaredMs?: number;
  signal?: AbortSignal;
}

/** One query of the probe: the shape of the app's costly read (a count over generate_series). */
const PROBE = "SELECT count(*) FROM generate_series(1, $1::int)";
/** CPU of the whole probe: long enough that tick-level accounting and the pg round trips are noise. */
const PROBE_CPU_MS = 600;
/** Query size when no read size is declared. */
const QUERY_CPU_MS = 10;

/** Postgres answers its port before it takes queries ("the database system is starting up"; the
 * image's first start restarts the server after initdb): connect until a query runs, bounded. */
async function connect(
  service: string,
  ep: Endpoint,
  password: string,
  signal: AbortSignal | undefined,
  timeoutMs = 60_000,
): Promise<pg.Client> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const client = new pg.Client({
      host: ep.host,
      port: ep.port,
      user: "cascade",
      password,
      database: "cascade",
      connectionTimeoutMillis: 5000,
      query_timeout: 30_000,
      application_name: "cascade-calibrate",
      // As the app's connections: room for the materialized series, so a row costs the same at any size.
      options: "-c work_mem=64MB",
    });
    client.on("error", () => {}); // reported through the failing query
    try {
      await client.connect();
      await client.query("SELECT 1");
      return client;
    } catch (e) {
      await client.end().catch(() => {});
      if (Date.now() > deadline)
        throw new Error(`calibrating ${service}: no query answered within ${timeoutMs / 1000} s: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function calibratePostgres(service: string, ep: Endpoint, opts: CalibrateOptions): Promise<DbCalibration> {
  const client = await connect(service, ep, opts.password, opts.signal);
  try {
    const backend = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    const own = backend !== undefined && (await opts.backendCpuNs?.(backend)) !== undefined;
    return await calibrateProbe(service, {
      ...opts,
      run: async (rows) => {
        await client.query(PROBE, [rows]);
      },
      cpuNs: own ? async () => opts.backendCpuNs?.(backend as number) : opts.cpuNs,
      counter: own ? "backend" : "cgroup",
      warmUnits: 20_000,
      firstUnits: 50_000,
    });
  } finally {
    await client.end().catch(() => {});
  }
}

/** A probe run on one connection: `run(units)` executes one query of that many units (rows,
 * iterations) of the database's costly read; `cpuNs` reads the CPU counter it is timed by. */
export interface Probe {
  run: (units: number) => Promise<void>;
  cpuNs: () => Promise<number | undefined>;
  /** "backend": the probing connection's own process; "cgroup": the container, less what it burns idle */
  counter: "backend" | "cgroup";
  /** units of the warm-up queries, and of the first estimate's (a few to tens of ms each) */
  warmUnits: number;
  firstUnits: number;
  declaredMs?: number;
  signal?: AbortSignal;
}

/** Units of the database's costly read per CPU-millisecond, measured with `probe` (any database). */
export async function calibrateProbe(service: string, probe: Probe): Promise<DbCalibration> {
  const own = probe.counter === "backend";
  const cpu = async (): Promise<number> => {
    const ns = await probe.cpuNs();
    if (ns === undefined) throw new Error(`calibrating ${service}: its CPU counter cannot be read on this host`);
    return ns;
  };
  let idleNsPerMs = 0;
  // Each query timed alone, the median kept: CPU time per row moves with what the neighbours do
  // to caches and shared cores, and a median over many short queries ignores a burst.
  const measure = async (rows: number, queries: number) => {
    const perQuery: number[] = [];
    let cpuNs = 0;
    const t0 = performance.now();
    for (let i = 0; i < queries; i++) {
      probe.signal?.throwIfAborted();
      const c0 = await cpu();
      const q0 = performance.now();
      await probe.run(rows);
      const used = (await cpu()) - c0 - idleNsPerMs * (performance.now() - q0);
      cpuNs += used;
      perQuery.push(used / 1e6);
    }
    return { median_ms: median(perQuery), per_query: perQuery, cpu_ms: cpuNs / 1e6, wall_ms: performance.now() - t0 };
  };
  // Warm the backend (plan cache, memory), then size the queries from a first estimate.
  await measure(probe.warmUnits, 3);
  if (!own) {
    // A fresh database works in the background for a while (checkpointer, autovacuum, stats);
    // its cgroup counts that too, so what it burns idle is taken out.
    const idle0 = await cpu();
    const idleT0 = performance.now();
    await new Promise((r) => setTimeout(r, 300));
    idleNsPerMs = Math.max(0, ((await cpu()) - idle0) / (performance.now() - idleT0));
  }
  const first = await measure(probe.firstUnits, 4);
  // Probe queries of the declared read's size when there is one: the figure is exact where it is used.
  const size = probe.declaredMs || QUERY_CPU_MS;
  const rows = Math.max(1000, Math.round((probe.firstUnits / Math.max(first.median_ms, 0.1)) * size));
  const queries = 2 * Math.ceil(Math.min(60, Math.max(10, PROBE_CPU_MS / size)) / 2);
  // The first half alone gives a figure to convert the declared read with; in the second half
  // probe queries and reads of the declared cost alternate, so both see the same neighbours.
  const head = await measure(rows, queries / 2);
  const readRows = probe.declaredMs ? Math.max(1, Math.round(probe.declaredMs * (rows / head.median_ms))) : 0;
  const perQuery = [...head.per_query];
  const reads: number[] = [];
  let cpuMs = head.cpu_ms;
  let wallMs = head.wall_ms;
  for (let i = 0; i < queries / 2; i++) {
    const one = await measure(rows, 1);
    perQuery.push(...one.per_query);
    cpuMs += one.cpu_ms;
    wallMs += one.wall_ms;
    if (readRows) reads.push(...(await measure(readRows, 1)).per_query);
  }
  const perQueryMs = median(perQuery);
  if (perQueryMs <= 0) throw new Error(`calibrating ${service}: the probe used no measurable CPU`);
  const rowsPerMs = rows / perQueryMs;
  const out: DbCalibration = {
    service,
    rows_per_cpu_ms: Math.round(rowsPerMs),
    probe: {
      queries: perQuery.length,
      rows: rows * perQuery.length,
      cpu_ms: round1(cpuMs),
      wall_ms: Math.round(wallMs),
      idle_cpu_share: Math.round(idleNsPerMs / 1e3) / 1e3,
      counter: probe.counter,
    },
  };
  if (probe.declaredMs && reads.length) {
    // The conversion checked: reads of the declared cost at the final figure would cost this.
    const scale = Math.round(probe.declaredMs * rowsPerMs) / readRows;
    out.check = {
      declared_ms: probe.declaredMs,
      rows: Math.round(probe.declaredMs * rowsPerMs),
      measured_ms: round1(median(reads) * scale),
    };
  }
  return out;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
