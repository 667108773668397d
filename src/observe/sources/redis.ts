// Redis INFO over RESP: clients (connected, maxclients), stats (connections received and
// rejected, keyspace hits and misses, evictions), memory. A few lines of RESP rather than a client
// library: the reader sends one inline command and reads one bulk string back, on a connection it
// holds itself (a library's reconnect and offline queue would hide the very failures it must see).
import { HeldConnectionReader } from "./held-connection.js";
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

/** Redis INFO on a connection held for the whole run (see held-connection.ts). At maxclients Redis
 * accepts, writes "-ERR max number of clients reached" and closes: that is the reader's error. */
export class RedisReader extends HeldConnectionReader<RedisInfo> {
  constructor(endpoint: () => Promise<Endpoint>, timeoutMs = 800) {
    super(
      {
        name: "redis INFO",
        command: "INFO\r\n",
        quit: "QUIT\r\n",
        reply: (buf) => {
          const r = parseReply(buf);
          return r === undefined || r instanceof Error ? r : parseRedisInfo(r);
        },
      },
      endpoint,
      timeoutMs,
    );
  }
}
