// Which cache connection a request uses (cacheClient):
// - "pooled": cachePoolSize long-lived connections shared by every request, round robin, skipping
//   the ones marked down.
// - "per-worker": one long-lived connection per prefork slot, opened when the slot is created (the
//   1,200 connections of seed 001, of which memcached at its -c limit refuses some). Under the
//   async model there are no workers: it behaves as "pooled".
// - "per-request": a new connection for every operation, closed right after (seed 000's churn).
//   memjs has no such mode: a client is created and closed per operation.
// The same layouts for either server: `connection` makes one connection (memcached through memjs,
// Redis through ioredis), chosen by CACHE_KIND.
// A change of cacheClient or cachePoolSize at run time builds a new set of connections; the old
// set is closed once operations already started on it are over.
import { type Cache, type CacheConnection, type CacheConnectionOptions, CacheError, MemcachedCache } from "./cache.js";
import { RedisCache } from "./redis-cache.js";
import { Deque } from "./admission.js";
import type { AppSettings } from "./config.js";
import type { LiveSettings } from "./settings.js";
import type { Slot } from "./workers.js";

export type CacheKind = "memcached" | "redis";
type Connect = (addr: string, opts: CacheConnectionOptions) => CacheConnection;

export const connectionOf: Record<CacheKind, Connect> = {
  memcached: (addr, opts) => new MemcachedCache(addr, opts),
  redis: (addr, opts) => new RedisCache(addr, opts),
};

/** A connection per operation; after a failure, operations fail at once for failoverMs. */
export class PerRequestCache implements Cache {
  private downUntil = 0;
  private downSince: number | undefined;
  private closed = false;

  constructor(
    readonly addr: string,
    private readonly opts: CacheConnectionOptions,
    private readonly connection: Connect = connectionOf.memcached,
  ) {}

  get failing(): boolean {
    return this.downSince !== undefined;
  }

  get(key: string): Promise<string | null> {
    return this.once((c) => c.get(key));
  }

  set(key: string, value: string, ttlS: number): Promise<void> {
    return this.once((c) => c.set(key, value, ttlS));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async once<T>(op: (c: CacheConnection) => Promise<T>): Promise<T> {
    if (this.closed) throw new CacheError("cache closed");
    if (Date.now() < this.downUntil) throw new CacheError(`cache ${this.addr} marked down`);
    // failoverMs 0 for the throwaway client: the down window is kept here, across clients.
    const client = this.connection(this.addr, {
      timeoutMs: this.opts.timeoutMs,
      failoverMs: 0,
      ...(this.opts.onConnection ? { onConnection: this.opts.onConnection } : {}),
    });
    try {
      const value = await op(client);
      this.downSince = undefined;
      return value;
    } catch (e) {
      if (client.failing) {
        this.downUntil = Date.now() + this.opts.failoverMs;
        this.downSince ??= Date.now();
      }
      throw e;
    } finally {
      await client.close();
    }
  }
}

/** Long-lived connections shared round robin. */
export class PooledCache implements Cache {
  private next = 0;

  constructor(readonly members: CacheConnection[]) {}

  /** Every connection is down. */
  get failing(): boolean {
    return this.members.every((m) => m.failing);
  }

  connect(): Promise<void> {
    return Promise.all(this.members.map((m) => m.connect())).then(() => {});
  }

  get(key: string): Promise<string | null> {
    return this.pick().get(key);
  }

  set(key: string, value: string, ttlS: number): Promise<void> {
    return this.pick().set(key, value, ttlS);
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.close()));
  }

  /** The next connection not marked down (or the next one, which then fails fast). */
  private pick(): CacheConnection {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const m = this.members[(this.next + i) % n]!;
      if (!m.isDown) {
        this.next = (this.next + i + 1) % n;
        return m;
      }
    }
    const m = this.members[this.next % n]!;
    this.next = (this.next + 1) % n;
    return m;
  }
}

type Layout =
  | { kind: "pooled"; cache: PooledCache }
  | { kind: "per-request"; cache: PerRequestCache }
  | { kind: "per-worker"; caches: Map<number, CacheConnection> };

export interface CacheClientsOptions {
  addr: string;
  /** The server behind addr (memcached when absent). */
  kind?: CacheKind;
  live: LiveSettings;
  /** The prefork slots in service (none under the async model). */
  slots: () => Iterable<Slot>;
  log: (line: string) => void;
  onConnection: () => void;
}

export class CacheClients {
  private layout: Layout;
  private readonly connecting = new Deque<CacheConnection>();
  private connectsInFlight = 0;
  private readonly connOpts: CacheConnectionOptions;
  private readonly connection: Connect;

  constructor(private readonly opts: CacheClientsOptions) {
    const { live } = opts;
    this.connection = connectionOf[opts.kind ?? "memcached"];
    this.connOpts = {
      get timeoutMs() {
        return live.current.cacheTimeoutMs;
      },
      get failoverMs() {
        return live.current.cacheFailoverMs;
      },
      log: throttledLog(opts.log, 5000),
      onConnection: opts.onConnection,
    };
    this.layout = this.build(live.current);
    live.onChange((next, prev) => {
      if (effectiveKind(next) === effectiveKind(prev) && next.cachePoolSize === prev.cachePoolSize) return;
      const old = this.layout;
      this.layout = this.build(next);
      this.opts.log(`cache clients: now ${effectiveKind(next)}${effectiveKind(next) === "pooled" ? ` x${next.cachePoolSize}` : ""}`);
      // Operations in progress on the old connections end within cacheTimeoutMs.
      setTimeout(() => void closeLayout(old), next.cacheTimeoutMs + 100).unref();
    });
  }

  /** The cache a request served by `slot` uses. */
  cacheFor(slot: Slot): Cache {
    const l = this.layout;
    if (l.kind !== "per-worker") return l.cache;
    let cache = l.caches.get(slot.id);
    if (!cache) cache = this.addWorker(l, slot); // a slot added before this layout was built
    return cache;
  }

  /** A prefork slot came into service: with per-worker connections, it opens its own now. */
  slotAdded(slot: Slot): void {
    if (this.layout.kind === "per-worker") this.addWorker(this.layout, slot);
  }

  slotRemoved(slot: Slot): void {
    if (this.layout.kind !== "per-worker") return;
    void this.layout.caches.get(slot.id)?.close();
    this.layout.caches.delete(slot.id);
  }

  /** Prefork slots whose cache reads fail at once right now (connection down or refused). */
  withoutCache(): number {
    const l = this.layout;
    let n = 0;
    if (l.kind === "per-worker") {
      for (const cache of l.caches.values()) if (cache.failing) n++;
      return n;
    }
    if (!l.cache.failing) return 0;
    for (const _ of this.opts.slots()) n++;
    return n;
  }

  /** Opens the long-lived connections now (pooled ones; per-worker ones open as slots are added). */
  connect(): Promise<void> {
    return this.layout.kind === "pooled" ? this.layout.cache.connect() : Promise.resolve();
  }

  close(): Promise<void> {
    return closeLayout(this.layout);
  }

  private build(s: AppSettings): Layout {
    const kind = effectiveKind(s);
    if (kind === "per-request") return { kind, cache: new PerRequestCache(this.opts.addr, this.connOpts, this.connection) };
    if (kind === "pooled") {
      const members = Array.from({ length: s.cachePoolSize }, () => this.connection(this.opts.addr, this.connOpts));
      return { kind, cache: new PooledCache(members) };
    }
    const layout: Layout = { kind, caches: new Map() };
    for (const slot of this.opts.slots()) this.addWorker(layout, slot);
    return layout;
  }

  private addWorker(layout: Extract<Layout, { kind: "per-worker" }>, slot: Slot): CacheConnection {
    const cache = this.connection(this.opts.addr, this.connOpts);
    layout.caches.set(slot.id, cache);
    this.connecting.push(cache);
    this.connectSome();
    return cache;
  }

  /**
   * Opens queued worker connections, CONNECT_CONCURRENCY at a time. All 1,200 at once would spend
   * longer than cacheTimeoutMs of event loop just creating them, and every one would time out;
   * unicorn's workers, forked one after the other, connect one after the other too.
   */
  private connectSome(): void {
    while (this.connectsInFlight < CONNECT_CONCURRENCY) {
      const cache = this.connecting.shift();
      if (!cache) return;
      this.connectsInFlight++;
      void cache.connect().finally(() => {
        this.connectsInFlight--;
        this.connectSome();
      });
    }
  }
}

const CONNECT_CONCURRENCY = 32;

/** "per-worker" only means something with prefork workers. */
function effectiveKind(s: AppSettings): AppSettings["cacheClient"] {
  return s.cacheClient === "per-worker" && s.model !== "prefork" ? "pooled" : s.cacheClient;
}

async function closeLayout(l: Layout): Promise<void> {
  if (l.kind === "per-worker") await Promise.all([...l.caches.values()].map((c) => c.close()));
  else await l.cache.close();
}

/** At most one line per `ms` (1,200 worker connections failing at once would log 1,200 lines). */
export function throttledLog(log: (line: string) => void, ms: number): (line: string) => void {
  let last = Number.NEGATIVE_INFINITY;
  let dropped = 0;
  return (line) => {
    const now = performance.now();
    if (now - last < ms) {
      dropped++;
      return;
    }
    last = now;
    log(dropped > 0 ? `${line} (and ${dropped} similar lines not shown)` : line);
    dropped = 0;
  };
}
