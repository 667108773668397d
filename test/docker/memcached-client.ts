// Just enough of memcached's text protocol to measure a link from the host: round trips, a large
// value's transfer (time, chunks, bytes before a close), and whether a connection is answered.
import { connect, type Socket } from "node:net";
import type { Endpoint } from "../../src/runtime/types.js";

/** ms from sending `version` on a fresh connection to the reply; null if none within `timeoutMs`. */
export function versionRtt(ep: Endpoint, timeoutMs = 2000): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = connect(ep.port, ep.host);
    let t0 = 0;
    const done = (v: number | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("connect", () => {
      t0 = performance.now();
      sock.write("version\r\n");
    });
    sock.on("data", (d: Buffer) => {
      if (d.toString().startsWith("VERSION")) done(performance.now() - t0);
    });
    sock.on("error", () => done(null));
    sock.on("close", () => done(null));
  });
}

export function setValue(ep: Endpoint, key: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(ep.port, ep.host, () => {
      sock.write(`set ${key} 0 0 ${size}\r\n`);
      sock.write(Buffer.alloc(size, 0x61));
      sock.write("\r\n");
    });
    sock.setTimeout(5000, () => sock.destroy(new Error("set timed out")));
    sock.on("data", (d: Buffer) => {
      sock.destroy();
      if (d.toString().startsWith("STORED")) resolve();
      else reject(new Error(`set ${key}: ${d.toString().trim()}`));
    });
    sock.on("error", reject);
  });
}

export interface Transfer {
  ms: number;
  bytes: number;
  chunks: number;
  /** the whole value and END arrived */
  complete: boolean;
  /** how the connection ended: closed by the peer, reset, or still open at the deadline */
  ended: "complete" | "closed" | "reset" | "timeout";
}

/** `get key` on a fresh connection; counts what arrives until END, a close, or the deadline. */
export function getValue(ep: Endpoint, key: string, timeoutMs = 10_000): Promise<Transfer> {
  return new Promise((resolve) => {
    const sock = connect(ep.port, ep.host);
    let t0 = 0;
    let bytes = 0;
    let chunks = 0;
    let tail = "";
    let settled = false;
    const done = (ended: Transfer["ended"]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ms: performance.now() - t0, bytes, chunks, complete: ended === "complete", ended });
    };
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    sock.on("connect", () => {
      t0 = performance.now();
      sock.write(`get ${key}\r\n`);
    });
    sock.on("data", (d: Buffer) => {
      bytes += d.length;
      chunks++;
      tail = (tail + d.toString("latin1")).slice(-5);
      if (tail === "END\r\n") done("complete");
    });
    sock.on("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNRESET" ? "reset" : "closed"));
    sock.on("close", () => done("closed"));
  });
}

/** ms from asking memcached to close (`quit`) until the client sees the close. */
export function closeDelay(ep: Endpoint, timeoutMs = 5000): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = connect(ep.port, ep.host);
    let t0 = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(null);
    }, timeoutMs);
    sock.on("connect", () => {
      t0 = performance.now();
      sock.write("quit\r\n");
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
    sock.on("error", () => {});
  });
}

/** Median of n sequential round trips (null ones dropped). */
export async function medianRtt(ep: Endpoint, n = 9, timeoutMs = 2000): Promise<number | null> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = await versionRtt(ep, timeoutMs);
    if (v !== null) xs.push(v);
  }
  xs.sort((a, b) => a - b);
  return xs.length ? (xs[Math.floor(xs.length / 2)] as number) : null;
}

/** Opens n connections at once and keeps them all open while each asks `version`; how many were
 * answered within `timeoutMs` (a server out of file descriptors cannot accept the rest). */
export async function answeredTogether(ep: Endpoint, n: number, timeoutMs = 1500): Promise<number> {
  const socks: Socket[] = [];
  const answered = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<boolean>((resolve) => {
          const sock = connect(ep.port, ep.host);
          socks.push(sock);
          const timer = setTimeout(() => resolve(false), timeoutMs);
          sock.on("connect", () => sock.write("version\r\n"));
          sock.on("data", (d: Buffer) => {
            if (d.toString().startsWith("VERSION")) {
              clearTimeout(timer);
              resolve(true);
            }
          });
          sock.on("error", () => resolve(false));
        }),
    ),
  );
  for (const s of socks) s.destroy();
  return answered.filter(Boolean).length;
}
