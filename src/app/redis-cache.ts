// Redis access for the read-through path, with the same failure handling as the memcached one
// (cache.ts): one connection per RedisCache, a hard deadline on every operation, and any
// connection-level error, timeout or close by the server marks the connection down for
// failoverMs (operations fail at once, callers go to the database); the ioredis client is then
// thrown away and the next operation after the window connects anew.
//
// ioredis (5.x: 6 needs Node 20, the offline app image runs Debian's Node 18) is what Node apps use
// against Redis. Its own resilience is switched off, as memjs' is: no reconnects (retryStrategy),
// no resending of unanswered commands, and nothing sent before the first command (no ready check's
// INFO, no CLIENT SETINFO): each would add a round trip to every per-request connection. Its offline queue stays on so that the first
// command waits for the connection, bounded by our deadline.
import { Redis } from "ioredis";
import { CacheError, type CacheConnection, type CacheConnectionOptions } from "./cache.js";
import { errorMessage } from "./timeout.js";

/** ioredis' own timeouts: far above any hard deadline of ours, which is what bounds an operation. */
const IOREDIS_TIMEOUT_MS = 60_000;

interface Generation {
  client: Redis;
  /** Fails every operation still waiting on this client. */
  pending: Set<(err: Error) => void>;
}

/** An error reply from a healthy server (WRONGTYPE, OOM…) says nothing about the connection; the
 * one Redis writes before closing a connection past maxclients does. */
const isReplyOnly = (err: Error) => err.name === "ReplyError" && !/max number of clients/i.test(err.message);

export class RedisCache implements CacheConnection {
  private gen: Generation | undefined;
  private downUntil = 0;
  private downSince: number | undefined;
  private closed = false;
  private readonly log: (line: string) => void;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly addr: string,
    private readonly opts: CacheConnectionOptions,
  ) {
    this.log = opts.log ?? (() => {});
    const i = addr.lastIndexOf(":");
    this.host = i > 0 ? addr.slice(0, i) : addr;
    this.port = i > 0 ? Number(addr.slice(i + 1)) : 6379;
  }

  get isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  get failing(): boolean {
    return this.downSince !== undefined;
  }

  async connect(): Promise<void> {
    await this.get("cascade:connect").catch(() => {});
  }

  get(key: string): Promise<string | null> {
    return this.op("get", (c) => c.get(key));
  }

  async set(key: string, value: string, ttlS: number): Promise<void> {
    await this.op("set", (c) => (ttlS > 0 ? c.set(key, value, "EX", ttlS) : c.set(key, value)));
  }

  async close(): Promise<void> {
    this.closed = true;
    const gen = this.gen;
    this.gen = undefined;
    if (gen) this.discard(gen, new CacheError("cache closed"));
  }

  private op<T>(what: string, run: (client: Redis) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let gen: Generation;
      try {
        gen = this.current();
      } catch (e) {
        reject(e);
        return;
      }
      let done = false;
      const finish = (err: Error | null, value?: T): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        gen.pending.delete(fail);
        if (err) {
          if (!isReplyOnly(err)) this.failed(gen, err);
          reject(err instanceof CacheError ? err : new CacheError(`redis ${what}: ${errorMessage(err)}`));
        } else {
          if (this.downSince !== undefined && gen === this.gen) {
            this.log(`redis ${this.addr} is back after ${Date.now() - this.downSince} ms`);
            this.downSince = undefined;
          }
          resolve(value as T);
        }
      };
      const fail = (err: Error): void => finish(err);
      gen.pending.add(fail);
      const timeoutMs = this.opts.timeoutMs;
      const timer = setTimeout(() => fail(new CacheError(`redis ${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      run(gen.client).then(
        (v) => finish(null, v),
        (e: unknown) => fail(e instanceof Error ? e : new Error(String(e))),
      );
    });
  }

  private current(): Generation {
    if (this.closed) throw new CacheError("cache closed");
    if (Date.now() < this.downUntil) throw new CacheError(`redis ${this.addr} marked down`);
    if (!this.gen) {
      const client = new Redis({
        host: this.host,
        port: this.port,
        retryStrategy: () => null, // one connection: a failure goes to the caller (and the database)
        reconnectOnError: () => false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
        // No CLIENT SETINFO on connect: ioredis waits for its replies before the first command,
        // a round trip memjs does not make (and Redis 7.0 answers it with an error anyway).
        disableClientInfo: true,
        connectTimeout: IOREDIS_TIMEOUT_MS,
        keepAlive: 30_000,
        lazyConnect: false,
      });
      const gen: Generation = { client, pending: new Set() };
      client.on("connect", () => {
        if (gen === this.gen) this.opts.onConnection?.();
        else client.disconnect(); // connected after it was discarded
      });
      // Without a listener ioredis logs every error to the console; here each one marks the
      // connection down (a close by the server follows a refusal past maxclients).
      client.on("error", (e: Error) => this.failed(gen, e));
      client.on("close", () => this.failed(gen, new CacheError("connection closed by redis")));
      this.gen = gen;
    }
    return this.gen;
  }

  private failed(gen: Generation, err: Error): void {
    if (gen !== this.gen) return; // that client was already discarded
    this.gen = undefined;
    const failoverMs = this.opts.failoverMs;
    this.downUntil = Date.now() + failoverMs;
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.log(`redis ${this.addr} marked down for ${failoverMs} ms: ${errorMessage(err)}`);
    }
    this.discard(gen, new CacheError(`redis connection dropped: ${errorMessage(err)}`));
  }

  private discard(gen: Generation, err: Error): void {
    for (const fail of [...gen.pending]) fail(err);
    gen.client.disconnect();
  }
}
