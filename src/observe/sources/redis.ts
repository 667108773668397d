// Redis INFO over RESP: clients (connected, maxclients), stats (connections received and
// rejected, keyspace hits and misses, evictions), memory. A few lines of RESP rather than a client
// library: the reader sends one inline command and reads one bulk string back, on a connection it
// holds itself (a library's reconnect and offline queue would hide the very failures it must see).
import { connect, type Socket } from "node:net";
import type { Endpoint } from "../../runtime/types.js";

export type RedisInfo = Record<string, number>;

/** Parses INFO's "key:value" lines; non-numeric values (versions, modes) are skipped, and a
 * keyspace line (db0:keys=3,expires=3,avg_ttl=0) adds its keys to `keys`. */
export function parseRedisInfo(text: string): RedisInfo {
  const out: RedisInfo = {};
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i <= 0 || line.startsWith("#")) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1);
    if (/^db\d+$/.test(key)) {
      const keys = /(?:^|,)keys=(\d+)/.exec(value);
      if (keys) out.keys = (out.keys ?? 0) + Number(keys[1]);
      continue;
    }
    if (value === "") continue;
    const v = Number(value);
    if (Number.isFinite(v)) out[key] = v;
  }
  out.keys ??= 0;
  return out;
}

/** A reply is complete: a bulk string ($len, then len bytes and CRLF) or a one-line error or status.
 * `buf` is latin1, so its length counts bytes. Returns the payload, an Error, or undefined (wait). */
export function parseReply(buf: string): string | Error | undefined {
  const eol = buf.indexOf("\r\n");
  if (eol < 0) return undefined;
  const head = buf.slice(0, eol);
  if (head.startsWith("-")) return new Error(head.slice(1));
  if (head.startsWith("+")) return head.slice(1);
  if (!head.startsWith("$")) return new Error(`unexpected reply ${JSON.stringify(head.slice(0, 40))}`);
  const len = Number(head.slice(1));
  if (len < 0) return "";
  if (buf.length < eol + 2 + len + 2) return undefined;
  return buf.slice(eol + 2, eol + 2 + len);
}

/** A reader holding one connection for the whole run, opened as soon as Redis is up: a Redis
 * whose maxclients the app fills would refuse a reader that connects anew each second, and the run
 * would lose the very counters that tell the story. It reconnects after a failure (a killed and
 * restarted Redis), resolving the endpoint again (a restarted container's published port changes). */
export class RedisReader {
  private sock: Socket | undefined;
  private pending: { buf: string; resolve: (s: RedisInfo) => void; reject: (e: Error) => void } | undefined;

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
        reject(new Error(`redis on ${ep.host}:${ep.port}: no connection in ${this.timeoutMs} ms`));
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
        if (this.sock === sock) this.drop(new Error(`redis on ${ep.host}:${ep.port}: connection closed`));
      });
      sock.on("data", (d: Buffer) => {
        const p = this.pending;
        if (this.sock !== sock) return;
        // At maxclients Redis accepts, writes "-ERR max number of clients reached" and closes:
        // with no read in flight that error arrives unasked, and the close drops the socket.
        if (!p) return;
        p.buf += d.toString("latin1");
        const reply = parseReply(p.buf);
        if (reply === undefined) return;
        this.pending = undefined;
        if (reply instanceof Error) {
          this.drop(new Error(`redis INFO: ${reply.message}`));
          p.reject(reply);
        } else p.resolve(parseRedisInfo(reply));
      });
    });
  }

  async read(): Promise<RedisInfo> {
    await this.open();
    const sock = this.sock as Socket;
    return new Promise<RedisInfo>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drop(new Error(`redis INFO: no answer in ${this.timeoutMs} ms`));
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
      sock.write("INFO\r\n");
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
    sock?.end("QUIT\r\n");
    sock?.destroy();
  }
}
