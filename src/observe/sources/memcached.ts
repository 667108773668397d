// memcached `stats` over its text protocol: connections (current, total, rejected), gets, hits, misses.
import { connect } from "node:net";
import { HeldConnectionReader } from "./held-connection.js";
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

/** memcached's counters on a connection held for the whole run (see held-connection.ts). */
export class MemcachedReader extends HeldConnectionReader<MemcachedStats> {
  constructor(endpoint: () => Promise<Endpoint>, timeoutMs = 800) {
    super(
      {
        name: "memcached",
        command: "stats\r\n",
        quit: "quit\r\n",
        reply: (buf) => (buf.endsWith("END\r\n") ? parseMemcachedStats(buf) : undefined),
      },
      endpoint,
      timeoutMs,
    );
  }
}
