// memcached `stats` over its text protocol: connections (current, total, rejected), gets, hits, misses.
import { connect, type Socket } from "node:net";
import type { Endpoint } from "../../runtime/types.js";

export type MemcachedStats = Record<string, number>;

/** Parses the STAT lines of a `stats` reply; non-numeric values (version, libevent) are skipped. */
export function parseMemcachedStats(text: string): MemcachedStats {
  const out: MemcachedStats = {};
  for (const line of text.split("\r\n")) {
    const m = /^STAT (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (Number.isFinite(v)) out[m[1] as string] = v;
  }
  return out;
}

/** One `stats` exchange on a fresh connection (which itself counts in total_connections). */
export function memcachedStats(ep: Endpoint, timeoutMs = 1000): Promise<MemcachedStats> {
  return new Promise((resolve, reject) => {
    const sock = connect(ep.port, ep.host);
    let buf = "";
    const fail = (e: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`memcached stats on ${ep.host}:${ep.port}: no answer in ${timeoutMs} ms`)), timeoutMs);
    sock.on("connect", () => sock.write("stats\r\n"));
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      if (!buf.endsWith("END\r\n")) return;
      clearTimeout(timer);
      sock.end("quit\r\n");
      resolve(parseMemcachedStats(buf));
    });
    sock.on("error", fail);
    sock.on("close", () => fail(new Error(`memcached stats on ${ep.host}:${ep.port}: closed before END`)));
  });
}

/** A reader holding one connection for the whole run, opened as soon as memcached is up: a cache
 * whose connection table the app fills (the connection-cap stories) would refuse a reader that
 * connects anew each second, and the run would lose the very counters that tell the story. It
 * reconnects after a failure (a killed and restarted memcached). */
export class MemcachedReader {
  private sock: Socket | undefined;
  private pending: { buf: string; resolve: (s: MemcachedStats) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly endpoint: () => Promise<Endpoint>,
    private readonly timeoutMs = 800,
  ) {}

  /** Connects now (bounded); a failure is left for read() to retry. */
  async open(): Promise<void> {
    if (this.sock) return;
    const ep = await this.endpoint();
    await new Promise<void>((resolve, reject) => {
      const sock = connect(ep.port, ep.host);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`memcached on ${ep.host}:${ep.port}: no connection in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      sock.once("connect", () => {
        clearTimeout(timer);
        this.sock = sock;
        resolve();
      });
      // A socket given up on (timed out, replaced) may still report: only the current one counts.
      sock.on("error", (e) => {
        clearTimeout(timer);
        if (this.sock === sock) this.drop(e);
        reject(e);
      });
      sock.on("close", () => {
        if (this.sock === sock) this.drop(new Error(`memcached on ${ep.host}:${ep.port}: connection closed`));
      });
      sock.on("data", (d: Buffer) => {
        const p = this.pending;
        if (!p || this.sock !== sock) return;
        p.buf += d.toString("latin1");
        if (!p.buf.endsWith("END\r\n")) return;
        this.pending = undefined;
        p.resolve(parseMemcachedStats(p.buf));
      });
    });
  }

  async read(): Promise<MemcachedStats> {
    await this.open();
    const sock = this.sock as Socket;
    return new Promise<MemcachedStats>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drop(new Error(`memcached stats: no answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending = {
        buf: "",
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      sock.write("stats\r\n");
    });
  }

  /** Forgets the connection (the next read reconnects) and fails a read in flight. */
  private drop(e: Error): void {
    this.sock?.destroy();
    this.sock = undefined;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  async close(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    sock?.end("quit\r\n");
    sock?.destroy();
  }
}
