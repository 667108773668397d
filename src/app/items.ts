// The read-through path: memcached first, Postgres on a miss or when the cache fails, with the
// configured retries around the database read.
import type { Cache } from "./cache.js";
import type { Store } from "./db.js";
import type { AppMetrics } from "./metrics.js";
import { RetryBudget, type RetryPolicy, withRetries } from "./retry.js";

export interface ItemResult {
  status: 200 | 404 | 503;
  body: string;
  /** Where a 200 came from; for logs and tests. */
  source?: "cache" | "db";
}

export interface ItemServiceDeps {
  /** The cache used when `read` is given none (tests, and the async model's shared clients). */
  cache?: Cache | undefined;
  db: Store | undefined;
  metrics: AppMetrics;
  cacheTtlS: number | (() => number);
  /** Read before each retry decision; no retries when absent. */
  retry?: () => RetryPolicy;
  /** Sleep between retries (tests pass a fake). */
  wait?: (ms: number) => Promise<void>;
}

const NO_RETRY: RetryPolicy = { attempts: 1, backoff: "none", baseMs: 0, maxMs: 0, jitter: false, budget: 0 };

export class ItemService {
  readonly budget = new RetryBudget();

  constructor(private readonly deps: ItemServiceDeps) {}

  /** Reads item `id` through `cache` (the request's slot's connection) or the default one. */
  async read(id: number, cache: Cache | undefined = this.deps.cache): Promise<ItemResult> {
    const { db, metrics } = this.deps;
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
        // Cache down, slow or refusing: this is what moves the load onto the database.
        metrics.cacheErrors.inc();
        cacheUsable = false;
      }
    }

    if (!db) return { status: 503, body: "database not configured\n" };
    let payload: string | null;
    try {
      payload = await withRetries(
        async () => {
          metrics.dbQueries.inc();
          try {
            return await db.getPayload(id);
          } catch (e) {
            metrics.dbErrors.inc();
            throw e;
          }
        },
        this.deps.retry ?? (() => NO_RETRY),
        this.budget,
        { onRetry: () => metrics.retries.inc(), onBudgetExhausted: () => metrics.retryBudgetExhausted.inc() },
        this.deps.wait,
      );
    } catch {
      return { status: 503, body: "database unavailable\n" };
    }
    if (payload === null) return { status: 404, body: "no such item\n" };

    if (cache && cacheUsable) {
      // Fill the cache without making the client wait for memcached's reply.
      const ttl = typeof this.deps.cacheTtlS === "function" ? this.deps.cacheTtlS() : this.deps.cacheTtlS;
      cache.set(key, payload, ttl).catch(() => metrics.cacheErrors.inc());
    }
    return { status: 200, body: payload, source: "db" };
  }
}
