// Configuration of the reference app (the system under test), read once at start-up from the
// environment. Everything tunable by a scenario lives in CASCADE_APP_CONFIG (a JSON object); the
// addresses of its dependencies come from plain env vars set by the topology.

/** Settings a scenario may put in CASCADE_APP_CONFIG. */
export interface AppSettings {
  /** Number of distinct items (rows in `items`, keys `item:<id>` in memcached). */
  keys: number;
  /** Hard bound on one memcached get/set, in ms. */
  cacheTimeoutMs: number;
  /** After a memcached error the cache is treated as down (every op fails at once, reads go to the
   * database) for this long, then a fresh connection is tried. */
  cacheFailoverMs: number;
  /** TTL of the items written to memcached, in seconds (0 = never expire). */
  cacheTtlS: number;
  /** Maximum Postgres connections of this process. */
  dbPoolSize: number;
  /** Hard bound on one database read (waiting for a pooled connection + the query), in ms. */
  dbQueryTimeoutMs: number;
  /** Database CPU burnt by each read, as rows counted from generate_series (0 = the cheap
   * primary-key lookup). Makes a cold cache able to saturate a CPU-limited database, as the
   * stats page did in seed 001. Measured: 150,000 rows ≈ 50 ms of one core (Postgres 15). */
  dbQueryCost: number;
  /** Start-up: how long to keep retrying (every 500 ms) to reach the database and create/seed the
   * table before exiting non-zero, in ms. */
  dbInitTimeoutMs: number;
}

export interface AppConfig extends AppSettings {
  port: number;
  /** host:port of memcached; undefined = no cache (every read goes to the database). */
  cacheAddr: string | undefined;
  /** postgres:// URL; undefined = no database (every miss answers 503). */
  databaseUrl: string | undefined;
}

export const DEFAULT_SETTINGS: Readonly<AppSettings> = Object.freeze({
  keys: 100,
  cacheTimeoutMs: 200,
  cacheFailoverMs: 1000,
  cacheTtlS: 60,
  dbPoolSize: 10,
  dbQueryTimeoutMs: 2000,
  dbInitTimeoutMs: 60_000,
  dbQueryCost: 0,
});

/** How each setting is checked: integer or not, and its smallest allowed value. */
const RULES: Record<keyof AppSettings, { integer: boolean; min: number }> = {
  keys: { integer: true, min: 1 },
  cacheTimeoutMs: { integer: false, min: 1 },
  cacheFailoverMs: { integer: false, min: 0 },
  cacheTtlS: { integer: true, min: 0 },
  dbPoolSize: { integer: true, min: 1 },
  dbQueryTimeoutMs: { integer: false, min: 1 },
  dbInitTimeoutMs: { integer: false, min: 0 },
  dbQueryCost: { integer: true, min: 0 },
};

export const SETTING_NAMES = Object.keys(RULES) as (keyof AppSettings)[];

export class ConfigError extends Error {
  override name = "ConfigError";
}

function isSettingName(k: string): k is keyof AppSettings {
  return Object.hasOwn(RULES, k);
}

/** Parses the JSON text of CASCADE_APP_CONFIG; unknown keys and bad values throw ConfigError. */
export function parseSettings(json: string | undefined): AppSettings {
  const settings: AppSettings = { ...DEFAULT_SETTINGS };
  if (json === undefined || json.trim() === "") return settings;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new ConfigError(`CASCADE_APP_CONFIG is not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError("CASCADE_APP_CONFIG must be a JSON object");
  }
  for (const [key, value] of Object.entries(raw)) {
    if (!isSettingName(key)) {
      throw new ConfigError(`CASCADE_APP_CONFIG: unknown key "${key}" (known keys: ${SETTING_NAMES.join(", ")})`);
    }
    const rule = RULES[key];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new ConfigError(`CASCADE_APP_CONFIG: "${key}" must be a number, got ${JSON.stringify(value)}`);
    }
    if (rule.integer && !Number.isInteger(value)) {
      throw new ConfigError(`CASCADE_APP_CONFIG: "${key}" must be an integer, got ${value}`);
    }
    if (value < rule.min) {
      throw new ConfigError(`CASCADE_APP_CONFIG: "${key}" must be >= ${rule.min}, got ${value}`);
    }
    settings[key] = value;
  }
  return settings;
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

function parseDatabaseUrl(v: string | undefined): string | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  if (!/^postgres(ql)?:\/\//.test(v.trim())) {
    throw new ConfigError("DATABASE_URL must be a postgres:// or postgresql:// URL");
  }
  return v.trim();
}

/** Reads the whole configuration from an environment (process.env by default). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    port: parsePort(env.PORT),
    cacheAddr: parseCacheAddr(env.CACHE_ADDR),
    databaseUrl: parseDatabaseUrl(env.DATABASE_URL),
    ...parseSettings(env.CASCADE_APP_CONFIG),
  };
}
