// Configuration of the reference app (the system under test). Everything tunable by a scenario lives
// in CASCADE_APP_CONFIG (a JSON object of flat settings), which POST /admin/config can also change
// while the app runs; the addresses of its dependencies come from plain env vars set by the topology.

/** Settings a scenario may put in CASCADE_APP_CONFIG (and most of them in POST /admin/config). */
export interface AppSettings {
  /** Number of distinct items (rows in `items`, keys `item:<id>` in memcached). */
  keys: number;

  // --- concurrency
  /** "async": every request served concurrently on the event loop (capped by maxInFlight).
   * "prefork": `workers` slots that each serve one request at a time, like unicorn workers. */
  model: "async" | "prefork";
  /** Prefork slots per serving process. */
  workers: number;
  /** Async model: requests served at once (0 = no cap); the others wait in the queue. */
  maxInFlight: number;

  // --- OS processes
  /** 0: this process serves. >= 1: a master forks that many serving processes (node:cluster) and
   * restarts them when they crash or outgrow workerMemoryCapMb. */
  processes: number;
  /** Master replaces a serving process whose RSS exceeds this (0 = no cap). */
  workerMemoryCapMb: number;
  /** Master waits this long before forking a replacement. */
  restartDelayMs: number;
  /** How the master replaces a process over workerMemoryCapMb: "stop-first" (unicorn: stop it, then
   * fork anew — capacity dips) or "rolling" (fork the replacement, retire the old one once the
   * new one serves, one process at a time — recycling before the limit without a gap). */
  workerRecycle: "stop-first" | "rolling";

  // --- memory
  /** Each serving process allocates and touches this much before it accepts requests. Changed
   * live, running processes allocate (or release) the difference at once. */
  startupLoadMb: number;
  /** ...spread over this long (0 = all at once). */
  startupLoadMs: number;
  /** Retained, touched allocation per serving process and minute (a steady leak). */
  leakMbPerMin: number;

  // --- cache
  /** "pooled": cachePoolSize shared connections. "per-worker": one long-lived connection per
   * prefork slot (pooled under the async model). "per-request": a new connection per operation. */
  cacheClient: "pooled" | "per-worker" | "per-request";
  cachePoolSize: number;
  /** Hard bound on one memcached get/set, in ms. */
  cacheTimeoutMs: number;
  /** After a memcached error the connection counts as down (every op on it fails at once, reads go
   * to the database) for this long, then a fresh connection is tried. */
  cacheFailoverMs: number;
  /** TTL of the items written to memcached, in seconds (0 = never expire). */
  cacheTtlS: number;

  // --- database
  /** Maximum Postgres connections of each serving process. */
  dbPoolSize: number;
  /** Hard bound on one database read (waiting for a pooled connection + the query), in ms. */
  dbQueryTimeoutMs: number;
  /** Database CPU each read costs, in milliseconds of one core (0 = the cheap primary-key lookup).
   * Makes a cold cache able to saturate a CPU-limited database, as the stats page did in seed 001.
   * Declared in time, not rows, so a scenario means the same on a faster or slower host: the
   * harness measures at topology up how many generate_series rows one CPU-ms is on this host's
   * database (DB_ROWS_PER_CPU_MS) and the app counts that many rows per ms. */
  dbQueryCpuMs: number;
  /** pg_sleep added to each read, in ms: latency that holds a connection but costs no CPU. */
  dbQueryLatencyMs: number;
  /** Start-up: how long to keep retrying (every 500 ms) to reach the database and create/seed the
   * table before exiting non-zero, in ms. */
  dbInitTimeoutMs: number;

  // --- retries of the database read
  /** Total attempts (1 = no retry). */
  retryAttempts: number;
  retryBackoff: "none" | "fixed" | "exponential";
  retryBaseMs: number;
  retryMaxMs: number;
  /** Full jitter: each delay is uniform in [0, computed delay]. */
  retryJitter: boolean;
  /** Retries allowed as a fraction of first attempts over a sliding 10 s window (0 = unlimited). */
  retryBudget: number;

  // --- queueing and backpressure
  queueOrder: "fifo" | "lifo";
  /** Requests that may wait for a slot; past it they are shed with 503 (null = unbounded). */
  queueLimit: number | null;
  /** A request that waited longer than this is answered 503 when dequeued (0 = no deadline). */
  queueDeadlineMs: number;
  /** Shed new requests (503, and /health 503) when RSS / memory limit reaches this (0 = off). */
  shedMemoryFraction: number;

  // --- background jobs (the bad deploy of seed 004)
  /** Period of the in-process background job (0 = no jobs). */
  jobsIntervalMs: number;
  /** CPU each job burns on the event loop, in ms. */
  jobsCpuMs: number;
  /** Jobs throw an uncaught error: the serving process crashes. */
  jobsThrow: boolean;
}

export interface AppConfig extends AppSettings {
  port: number;
  /** host:port of the cache; undefined = no cache (every read goes to the database). */
  cacheAddr: string | undefined;
  /** The server at cacheAddr (CACHE_KIND): memcached unless told redis. */
  cacheKind: "memcached" | "redis";
  /** postgres:// URL; undefined = no database (every miss answers 503). */
  databaseUrl: string | undefined;
  /** generate_series rows per CPU-millisecond of this host's database, measured by the harness
   * (DB_ROWS_PER_CPU_MS); undefined = not calibrated, and then dbQueryCpuMs must stay 0. */
  dbRowsPerCpuMs: number | undefined;
}

export const DEFAULT_SETTINGS: Readonly<AppSettings> = Object.freeze({
  keys: 100,
  model: "async",
  workers: 8,
  maxInFlight: 0,
  processes: 0,
  workerMemoryCapMb: 0,
  restartDelayMs: 100,
  workerRecycle: "stop-first",
  startupLoadMb: 0,
  startupLoadMs: 0,
  leakMbPerMin: 0,
  cacheClient: "pooled",
  cachePoolSize: 4,
  cacheTimeoutMs: 200,
  cacheFailoverMs: 1000,
  cacheTtlS: 60,
  dbPoolSize: 10,
  dbQueryTimeoutMs: 2000,
  dbQueryCpuMs: 0,
  dbQueryLatencyMs: 0,
  dbInitTimeoutMs: 60_000,
  retryAttempts: 1,
  retryBackoff: "none",
  retryBaseMs: 50,
  retryMaxMs: 2000,
  retryJitter: false,
  retryBudget: 0,
  queueOrder: "fifo",
  queueLimit: null,
  queueDeadlineMs: 0,
  shedMemoryFraction: 0,
  jobsIntervalMs: 0,
  jobsCpuMs: 0,
  jobsThrow: false,
});

type Rule =
  | { kind: "number"; integer: boolean; min: number; max?: number; nullable?: true }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "boolean" };

const int = (min: number, max?: number): Rule => ({ kind: "number", integer: true, min, max });
const num = (min: number, max?: number): Rule => ({ kind: "number", integer: false, min, max });

/** How each setting is checked. */
const RULES: { [K in keyof AppSettings]: Rule } = {
  keys: int(1),
  model: { kind: "enum", values: ["async", "prefork"] },
  workers: int(1, 2000),
  maxInFlight: int(0),
  processes: int(0, 64),
  workerMemoryCapMb: num(0),
  restartDelayMs: num(0),
  workerRecycle: { kind: "enum", values: ["stop-first", "rolling"] },
  startupLoadMb: num(0),
  startupLoadMs: num(0),
  leakMbPerMin: num(0),
  cacheClient: { kind: "enum", values: ["pooled", "per-worker", "per-request"] },
  cachePoolSize: int(1, 1000),
  cacheTimeoutMs: num(1),
  cacheFailoverMs: num(0),
  cacheTtlS: int(0),
  dbPoolSize: int(1),
  dbQueryTimeoutMs: num(1),
  dbQueryCpuMs: num(0, 10_000),
  dbQueryLatencyMs: num(0),
  dbInitTimeoutMs: num(0),
  retryAttempts: int(1, 100),
  retryBackoff: { kind: "enum", values: ["none", "fixed", "exponential"] },
  retryBaseMs: num(0),
  retryMaxMs: num(0),
  retryJitter: { kind: "boolean" },
  retryBudget: num(0),
  queueOrder: { kind: "enum", values: ["fifo", "lifo"] },
  queueLimit: { kind: "number", integer: true, min: 0, nullable: true },
  queueDeadlineMs: num(0),
  shedMemoryFraction: num(0, 1),
  jobsIntervalMs: num(0),
  jobsCpuMs: num(0),
  jobsThrow: { kind: "boolean" },
};

export const SETTING_NAMES = Object.keys(RULES) as (keyof AppSettings)[];

/** Settings that only take effect when a process starts: POST /admin/config refuses to change them
 * (posting their current value is accepted, so GET's answer can be posted back as is). */
export const RESTART_ONLY_SETTINGS: readonly (keyof AppSettings)[] = ["model", "processes", "keys", "dbInitTimeoutMs"];

export class ConfigError extends Error {
  override name = "ConfigError";
}

function isSettingName(k: string): k is keyof AppSettings {
  return Object.hasOwn(RULES, k);
}

function checkValue(source: string, key: keyof AppSettings, value: unknown): void {
  const rule = RULES[key];
  const got = JSON.stringify(value);
  switch (rule.kind) {
    case "enum":
      if (typeof value !== "string" || !rule.values.includes(value)) {
        throw new ConfigError(`${source}: "${key}" must be one of ${rule.values.map((v) => `"${v}"`).join(", ")}, got ${got}`);
      }
      return;
    case "boolean":
      if (typeof value !== "boolean") throw new ConfigError(`${source}: "${key}" must be true or false, got ${got}`);
      return;
    case "number":
      if (value === null && rule.nullable) return;
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new ConfigError(`${source}: "${key}" must be a number${rule.nullable ? " or null" : ""}, got ${got}`);
      }
      if (rule.integer && !Number.isInteger(value)) throw new ConfigError(`${source}: "${key}" must be an integer, got ${value}`);
      if (value < rule.min) throw new ConfigError(`${source}: "${key}" must be >= ${rule.min}, got ${value}`);
      if (rule.max !== undefined && value > rule.max) throw new ConfigError(`${source}: "${key}" must be <= ${rule.max}, got ${value}`);
      return;
  }
}

/**
 * Checks a parsed JSON value as a set of settings (all of them optional) and returns it typed.
 * `source` prefixes the messages ("CASCADE_APP_CONFIG", "POST /admin/config").
 */
export function validateSettings(raw: unknown, source: string): Partial<AppSettings> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`${source} must be a JSON object`);
  }
  for (const [key, value] of Object.entries(raw)) {
    if (!isSettingName(key)) {
      throw new ConfigError(`${source}: unknown key "${key}" (known keys: ${SETTING_NAMES.join(", ")})`);
    }
    checkValue(source, key, value);
  }
  return raw as Partial<AppSettings>;
}

/** Every problem of a settings object, one per key, without stopping at the first: `cascade
 * validate` reports each at its own line. The same rules as validateSettings. */
export function settingsProblems(raw: Record<string, unknown>): Array<{ key: string; message: string }> {
  const out: Array<{ key: string; message: string }> = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!isSettingName(key)) {
      out.push({ key, message: `unknown reference-app setting "${key}" (known: ${SETTING_NAMES.join(", ")})` });
      continue;
    }
    try {
      checkValue("setting", key, value);
    } catch (e) {
      out.push({ key, message: (e as Error).message.replace(/^setting: /, "") });
    }
  }
  return out;
}

/** Parses the JSON text of CASCADE_APP_CONFIG; unknown keys and bad values throw ConfigError. */
export function parseSettings(json: string | undefined): AppSettings {
  if (json === undefined || json.trim() === "") return { ...DEFAULT_SETTINGS };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new ConfigError(`CASCADE_APP_CONFIG is not valid JSON: ${(e as Error).message}`);
  }
  return { ...DEFAULT_SETTINGS, ...validateSettings(raw, "CASCADE_APP_CONFIG") };
}

/**
 * The settings after applying `patch` (already validated) to `current` at run time; throws
 * ConfigError naming a restart-only setting the patch would change.
 */
export function mergeLive(current: AppSettings, patch: Partial<AppSettings>, source: string): AppSettings {
  for (const key of RESTART_ONLY_SETTINGS) {
    if (Object.hasOwn(patch, key) && patch[key] !== current[key]) {
      throw new ConfigError(
        `${source}: "${key}" cannot change while the app runs (it is ${JSON.stringify(current[key])}; set it in CASCADE_APP_CONFIG)`,
      );
    }
  }
  return { ...current, ...patch };
}

/** Just the settings of a config (what GET /admin/config shows and a forked process inherits). */
export function settingsOf(config: AppSettings): AppSettings {
  const out: Record<string, unknown> = {};
  for (const key of SETTING_NAMES) out[key] = config[key];
  return out as unknown as AppSettings;
}

function parsePort(v: string | undefined): number {
  if (v === undefined || v.trim() === "") return 8080;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`PORT must be a TCP port, got "${v}"`);
  return n;
}

function parseCacheAddr(v: string | undefined): string | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  const addr = v.trim();
  // memjs accepts "host[:port]" (and comma-separated lists, which this app does not use).
  if (!/^[^\s:,/@]+(:\d{1,5})?$/.test(addr)) throw new ConfigError(`CACHE_ADDR must be host:port, got "${v}"`);
  return addr;
}

function parseCacheKind(v: string | undefined): AppConfig["cacheKind"] {
  const kind = v?.trim() || "memcached";
  if (kind !== "memcached" && kind !== "redis") throw new ConfigError(`CACHE_KIND must be memcached or redis, got "${v}"`);
  return kind;
}

function parseDatabaseUrl(v: string | undefined): string | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  if (!/^postgres(ql)?:\/\//.test(v.trim())) {
    throw new ConfigError("DATABASE_URL must be a postgres:// or postgresql:// URL");
  }
  return v.trim();
}

/** Reads the whole configuration from an environment (process.env by default). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const config: AppConfig = {
    port: parsePort(env.PORT),
    cacheAddr: parseCacheAddr(env.CACHE_ADDR),
    cacheKind: parseCacheKind(env.CACHE_KIND),
    databaseUrl: parseDatabaseUrl(env.DATABASE_URL),
    dbRowsPerCpuMs: parseRowsPerMs(env.DB_ROWS_PER_CPU_MS),
    ...parseSettings(env.CASCADE_APP_CONFIG),
  };
  checkCalibrated(config, config.dbRowsPerCpuMs, "CASCADE_APP_CONFIG");
  return config;
}

export function parseRowsPerMs(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`DB_ROWS_PER_CPU_MS must be a positive number, got "${v}"`);
  return n;
}

/** CPU time can only be burnt on a database whose speed was measured: a guessed rows-per-ms would
 * make the same setting mean different work on different hosts, which is what it exists to stop. */
export function checkCalibrated(s: Pick<AppSettings, "dbQueryCpuMs">, rowsPerMs: number | undefined, source: string): void {
  if (s.dbQueryCpuMs > 0 && rowsPerMs === undefined)
    throw new ConfigError(
      `${source}: "dbQueryCpuMs" needs DB_ROWS_PER_CPU_MS, the database's rows per CPU-millisecond that the harness measures at topology up`,
    );
}

/** Rows of generate_series one read counts for `cpuMs` of database CPU. */
export const rowsFor = (cpuMs: number, rowsPerMs: number | undefined): number =>
  cpuMs > 0 && rowsPerMs ? Math.max(1, Math.round(cpuMs * rowsPerMs)) : 0;
