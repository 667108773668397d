// memcached access for the read-through path.
//
// memjs (1.3.x) is used for the protocol, but its failure handling is not what a load test needs,
// so it is wrapped:
// - memjs only honours `failoverTime` when `failover: true`, and then, with one server, answers
//   "No servers available" for that long; with `failover: false` it never marks the server dead.
// - Its per-request timeout is a socket *idle* timeout: with a steady trickle of late responses
//   (a latency toxic) a request can wait far longer than `timeout`.
// - After a timeout it `end()`s the socket and forgets it; events of that stale socket (a late
//   'close' or 'error') then act on the Server object again and can clear the callbacks or drop
//   the socket of the *new* connection.
// - A socket closed by the server without an error (memcached at its -c limit accepts, writes
//   "ERROR Too many open connections" and closes) leaves memjs' pending callbacks waiting forever.
// So: every operation has a hard deadline of its own; any connection-level error, timeout or close
// by the server marks the connection down for `failoverMs` (operations fail at once, callers go to
// the database), and the memjs client is thrown away with its sockets destroyed. The next operation
// after the window creates a fresh client, i.e. reconnects — typically within failoverMs of
// memcached coming back. One MemcachedCache is one connection; cache-clients.ts builds pools of
// them, one per prefork worker, or one per operation.
import type { Socket } from "node:net";
import memjs from "memjs";
import { errorMessage } from "./timeout.js";

export interface Cache {
  /** The cached value, or null on a miss. Rejects on error, timeout or while the cache is down. */
  get(key: string): Promise<string | null>;
  /** Stores a value with a TTL in seconds (0 = no expiry). Callers need not wait for it. */
  set(key: string, value: string, ttlS: number): Promise<void>;
  close(): Promise<void>;
}

export class CacheError extends Error {
  override name = "CacheError";
}

/** One connection to the cache server, with its own down window (memcached here, Redis in
 * redis-cache.ts); cache-clients.ts lays them out per worker, in a pool, or one per operation. */
export interface CacheConnection extends Cache {
  /** True while a recent failure keeps the connection marked down. */
  readonly isDown: boolean;
  /** True from a connection failure until an operation succeeds again. */
  readonly failing: boolean;
  /** Opens the connection now rather than on first use (a failure marks it down). */
  connect(): Promise<void>;
}

/** Read at each use, so an options object with getters can follow live settings. */
export interface CacheConnectionOptions {
  /** Hard bound on one operation (connecting included), ms. */
  readonly timeoutMs: number;
  /** How long the connection counts as down after a connection-level error, ms. */
  readonly failoverMs: number;
  log?: (line: string) => void;
  /** Called for every TCP connection opened to the cache. */
  onConnection?: () => void;
}

type Callback<T> = (err: Error | null, value: T) => void;

/** One client of a cache connection and what it has opened, discarded whole after a failure. */
export interface FailoverGeneration {
  /** Fails every operation still waiting on this client. */
  pending: Set<(err: Error) => void>;
}

/**
 * The failure handling a load test needs from one cache connection, whatever the client library
 * (memcached's memjs here, Redis's ioredis in redis-cache.ts): every operation has a hard deadline
 * of its own; any connection-level error, timeout or close by the server marks the connection
 * down for `failoverMs` (operations fail at once, callers go to the database), and the client is
 * thrown away with what it opened. The next operation after the window creates a fresh client,
 * i.e. reconnects. A subclass opens and tears down its client and tells a reply error from a
 * healthy server (which says nothing about the connection).
 */
export abstract class CacheFailover<G extends FailoverGeneration> implements CacheConnection {
  protected gen: G | undefined;
  private downUntil = 0;
  private downSince: number | undefined;
  private closed = false;
  protected readonly log: (line: string) => void;

  constructor(
    readonly addr: string,
    protected readonly opts: CacheConnectionOptions,
    /** in errors and log lines: "memcached", "redis" */
    private readonly kind: string,
  ) {
    this.log = opts.log ?? (() => {});
  }

  abstract get(key: string): Promise<string | null>;
  abstract set(key: string, value: string, ttlS: number): Promise<void>;
  /** A new client (its connection opens on first use or at once). */
  protected abstract open(): G;
  /** Closes what a discarded client opened. */
  protected abstract teardown(gen: G): void;
  /** An error status from a healthy server, which does not mean the connection is bad. */
  protected abstract replyOnly(err: Error): boolean;
  /** After an operation was handed to the client. */
  protected started(_gen: G): void {}

  /** True while a recent failure keeps the cache marked down. */
  get isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  /** True from a connection failure until an operation succeeds again: a worker "without cache". */
  get failing(): boolean {
    return this.downSince !== undefined;
  }

  /** Opens the connection now rather than on first use (a failure marks the cache down). */
  async connect(): Promise<void> {
    await this.get("cascade:connect").catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const gen = this.gen;
    this.gen = undefined;
    if (gen) this.discard(gen, new CacheError("cache closed"));
  }

  protected op<T>(what: string, run: (gen: G, cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let gen: G;
      try {
        gen = this.current();
      } catch (e) {
        reject(e);
        return;
      }
      let done = false;
      const finish = (err: Error | null, value: T): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        gen.pending.delete(fail);
        if (err) {
          if (!this.replyOnly(err)) this.failed(gen, err);
          reject(err instanceof CacheError ? err : new CacheError(`${this.kind} ${what}: ${errorMessage(err)}`));
        } else {
          if (this.downSince !== undefined && gen === this.gen) {
            this.log(`${this.kind} ${this.addr} is back after ${Date.now() - this.downSince} ms`);
            this.downSince = undefined;
          }
          resolve(value);
        }
      };
      const fail = (err: Error): void => finish(err, undefined as T);
      gen.pending.add(fail);
      const timeoutMs = this.opts.timeoutMs;
      const timer = setTimeout(() => fail(new CacheError(`${this.kind} ${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      try {
        run(gen, finish);
      } catch (e) {
        fail(e instanceof Error ? e : new Error(String(e)));
      }
      this.started(gen);
    });
  }

  private current(): G {
    if (this.closed) throw new CacheError("cache closed");
    if (Date.now() < this.downUntil) throw new CacheError(`${this.kind} ${this.addr} marked down`);
    this.gen ??= this.open();
    return this.gen;
  }

  /** Marks the connection down after a failure of `gen` (once: a later event of a discarded client is ignored). */
  protected failed(gen: G, err: Error): void {
    if (gen !== this.gen) return; // that client was already discarded
    this.gen = undefined;
    const failoverMs = this.opts.failoverMs;
    this.downUntil = Date.now() + failoverMs;
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.log(`${this.kind} ${this.addr} marked down for ${failoverMs} ms: ${errorMessage(err)}`);
    }
    this.discard(gen, new CacheError(`${this.kind} connection dropped: ${errorMessage(err)}`));
  }

  private discard(gen: G, err: Error): void {
    for (const fail of [...gen.pending]) fail(err);
    this.teardown(gen);
  }
}

/** memjs' own timeouts: far above any hard deadline of ours, which is what bounds an operation. */
const MEMJS_TIMEOUT_S = 60;

/** One memjs client and what it has opened, discarded whole after a failure. */
interface Generation extends FailoverGeneration {
  client: memjs.Client;
  sockets: Set<Socket>;
}

const silentLogger = { log: () => {} };

export class MemcachedCache extends CacheFailover<Generation> {
  constructor(addr: string, opts: CacheConnectionOptions) {
    super(addr, opts, "memcached");
  }

  get(key: string): Promise<string | null> {
    return this.op<string | null>("get", ({ client }, cb) =>
      client.get(key, (err, value) => cb(err, value === null ? null : value.toString("utf8"))),
    );
  }

  set(key: string, value: string, ttlS: number): Promise<void> {
    return this.op<void>("set", ({ client }, cb) => client.set(key, value, { expires: ttlS }, (err) => cb(err, undefined)));
  }

  /** memjs reports error *statuses* from a healthy server (e.g. "MemJS SET: Value too large")
   * with this prefix; those do not mean the connection is bad. */
  protected replyOnly(err: Error): boolean {
    return err.message.startsWith("MemJS ");
  }

  protected open(): Generation {
    const client = memjs.Client.create(this.addr, {
      retries: 0, // one attempt: a failure goes straight to the caller (and the database)
      failover: false, // failover/dead-marking is done here, see the top of the file
      timeout: MEMJS_TIMEOUT_S,
      conntimeout: MEMJS_TIMEOUT_S,
      keepAlive: true,
      logger: silentLogger,
    });
    return { client, sockets: new Set(), pending: new Set() };
  }

  /** Remembers the sockets memjs opened, so they can be destroyed even after memjs forgot them. */
  protected override started(gen: Generation): void {
    for (const server of gen.client.servers) {
      const sock = (server as unknown as { _socket?: Socket })._socket;
      if (sock && !gen.sockets.has(sock)) {
        if (gen !== this.gen) {
          sock.destroy(); // opened by a client already discarded (it failed meanwhile)
          continue;
        }
        gen.sockets.add(sock);
        this.opts.onConnection?.();
        sock.once("close", () => {
          gen.sockets.delete(sock);
          // Closed by the server (ours are closed only after `gen` was discarded).
          this.failed(gen, new CacheError("connection closed by memcached"));
        });
      }
    }
  }

  protected teardown(gen: Generation): void {
    for (const sock of gen.sockets) sock.destroy();
    gen.sockets.clear();
  }
}
