// The read-through path: memcached first, Postgres on a miss or when the cache fails.
import type { Cache } from "./cache.js";
import type { Database } from "./db.js";
import type { AppMetrics } from "./metrics.js";

export interface ItemResult {
  status: 200 | 404 | 503;
  body: string;
  /** Where a 200 came from; for logs and tests. */
  source?: "cache" | "db";
}

export interface ItemServiceDeps {
  cache: Cache | undefined;
  db: Database | undefined;
  metrics: AppMetrics;
  cacheTtlS: number;
}

export class ItemService {
  constructor(private readonly deps: ItemServiceDeps) {}

  async read(id: number): Promise<ItemResult> {
    const { cache, db, metrics } = this.deps;
    const key = `item:${id}`;
    let cacheUsable = cache !== undefined;
    if (cache) {
      try {
        const value = await cache.get(key);
        if (value !== null) {
          metrics.cacheHits.inc();
          return { status: 200, body: value, source: "cache" };
        }
        metrics.cacheMisses.inc();
      } catch {
        // Cache down or slow: this is what moves the load onto the database.
        metrics.cacheErrors.inc();
        cacheUsable = false;
      }
    }

    if (!db) return { status: 503, body: "database not configured\n" };
    metrics.dbQueries.inc();
    let payload: string | null;
    try {
      payload = await db.getPayload(id);
    } catch {
      metrics.dbErrors.inc();
      return { status: 503, body: "database unavailable\n" };
    }
    if (payload === null) return { status: 404, body: "no such item\n" };

    if (cache && cacheUsable) {
      // Fill the cache without making the client wait for memcached's reply.
      cache.set(key, payload, this.deps.cacheTtlS).catch(() => metrics.cacheErrors.inc());
    }
    return { status: 200, body: payload, source: "db" };
  }
}
