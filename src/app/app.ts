// Wiring of the reference app: builds cache, database, metrics and the HTTP server from a config.
// Kept free of process-level concerns (env, signals, exit) so it can also run inside a test.
import type { AddressInfo } from "node:net";
import { type Cache, MemcachedCache } from "./cache.js";
import type { AppConfig } from "./config.js";
import { Database } from "./db.js";
import { ItemService } from "./items.js";
import { type AppMetrics, createMetrics } from "./metrics.js";
import { createAppServer } from "./server.js";
import { errorMessage, sleep } from "./timeout.js";

export interface RunningApp {
  port: number;
  metrics: AppMetrics;
  /** Settles when start-up database work is over: resolves once the table is ready, rejects if it
   * never got ready within dbInitTimeoutMs. Never settles when no database is configured. */
  dbInit: Promise<void>;
  /** Stops accepting requests, lets the ones in progress finish (bounded), closes the clients. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: (line: string) => void;
  defaultMetrics?: boolean;
}

export async function startApp(config: AppConfig, opts: StartOptions = {}): Promise<RunningApp> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics });
  const cache: Cache | undefined = config.cacheAddr
    ? new MemcachedCache(config.cacheAddr, {
        timeoutMs: config.cacheTimeoutMs,
        failoverMs: config.cacheFailoverMs,
        log,
      })
    : undefined;
  const db = config.databaseUrl
    ? new Database(config.databaseUrl, {
        poolSize: config.dbPoolSize,
        queryTimeoutMs: config.dbQueryTimeoutMs,
        queryCost: config.dbQueryCost,
        log,
      })
    : undefined;

  let dbReady = false;
  const dbInit = db
    ? db.init(config.keys, config.dbInitTimeoutMs).then(() => {
        dbReady = true;
      })
    : new Promise<void>(() => {});
  dbInit.catch(() => {}); // the caller decides what a failed start-up means

  const items = new ItemService({ cache, db, metrics, cacheTtlS: config.cacheTtlS });
  const server = createAppServer({ items, metrics, keys: config.keys, dbReady: () => dbReady, log });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Node 18's close() leaves kept-alive idle connections open: close those now, and any still
      // busy once requests in progress had time to finish (every dependency call is bounded).
      server.closeIdleConnections();
      const grace = config.cacheTimeoutMs + config.dbQueryTimeoutMs + 500;
      await Promise.race([stopped, sleep(grace)]);
      server.closeAllConnections();
      await stopped;
      await Promise.all([cache?.close(), db?.close().catch((e: unknown) => log(`closing postgres: ${errorMessage(e)}`))]);
    })();
    return closing;
  };

  return { port, metrics, dbInit, close };
}
