// The Redis INFO fields a run records, shared by the stage that reads them (observe/samplers.ts)
// and the one that turns its counters into rates (analyze/series.ts), which must not import the
// sampler (it reaches runtime/). A counter only rises (until a restart); a gauge is read as it is.
const REDIS_INFO = {
  connected_clients: "gauge",
  maxclients: "gauge",
  total_connections_received: "counter",
  rejected_connections: "counter",
  keyspace_hits: "counter",
  keyspace_misses: "counter",
  evicted_keys: "counter",
  expired_keys: "counter",
  total_commands_processed: "counter",
  used_memory: "gauge",
  maxmemory: "gauge",
  /** the keyspace lines' keys, summed over databases (observe/sources/redis.ts) */
  keys: "gauge",
} as const satisfies Record<string, "counter" | "gauge">;

type RedisKey = keyof typeof REDIS_INFO;

/** Every field the Redis sampler keeps from INFO: clients, the stats a cache story needs, memory
 * against maxmemory, keys held. */
export const REDIS_KEYS = Object.keys(REDIS_INFO) as RedisKey[];

/** Of them, the counters: the analysis reads their rates (`<key>_per_s`). */
export const REDIS_COUNTERS = REDIS_KEYS.filter((k) => REDIS_INFO[k] === "counter");
