// Redis access for the read-through path, with the same failure handling as the memcached one
// (cache.ts's CacheFailover, shared): one connection per RedisCache, a hard deadline on every
// operation, and any connection-level error, timeout or close by the server marks the connection
// down for failoverMs (operations fail at once, callers go to the database); the ioredis client is
// then thrown away and the next operation after the window connects anew.
//
// ioredis (5.x: 6 needs Node 20, the offline app image runs Debian's Node 18) is what Node apps use
// against Redis. Its own resilience is switched off, as memjs' is: no reconnects (retryStrategy),
// no resending of unanswered commands, and nothing sent before the first command (no ready check's
// INFO, no CLIENT SETINFO): each would add a round trip to every per-request connection. Its offline queue stays on so that the first
// command waits for the connection, bounded by our deadline.
import { Redis } from "ioredis";
import { CacheError, type CacheConnectionOptions, CacheFailover, type FailoverGeneration } from "./cache.js";

/** ioredis' own timeouts: far above any hard deadline of ours, which is what bounds an operation. */
const IOREDIS_TIMEOUT_MS = 60_000;

interface Generation extends FailoverGeneration {
  client: Redis;
}

export class RedisCache extends CacheFailover<Generation> {
  private readonly host: string;
  private readonly port: number;

  constructor(addr: string, opts: CacheConnectionOptions) {
    super(addr, opts, "redis");
    const i = addr.lastIndexOf(":");
    this.host = i > 0 ? addr.slice(0, i) : addr;
    this.port = i > 0 ? Number(addr.slice(i + 1)) : 6379;
  }

  get(key: string): Promise<string | null> {
    return this.op("get", ({ client }, cb) => settle(client.get(key), cb));
  }

  async set(key: string, value: string, ttlS: number): Promise<void> {
    await this.op("set", ({ client }, cb) => settle(ttlS > 0 ? client.set(key, value, "EX", ttlS) : client.set(key, value), cb));
  }

  /** An error reply from a healthy server (WRONGTYPE, OOM…) says nothing about the connection; the
   * one Redis writes before closing a connection past maxclients does. */
  protected replyOnly(err: Error): boolean {
    return err.name === "ReplyError" && !/max number of clients/i.test(err.message);
  }

  protected open(): Generation {
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
    return gen;
  }

  protected teardown(gen: Generation): void {
    gen.client.disconnect();
  }
}

/** A promise's outcome handed to a callback. */
function settle<T>(p: Promise<T>, cb: (err: Error | null, value: T) => void): void {
  p.then(
    (v) => cb(null, v),
    (e: unknown) => cb(e instanceof Error ? e : new Error(String(e)), undefined as T),
  );
}
