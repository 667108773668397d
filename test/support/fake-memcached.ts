// A minimal binary-protocol memcached for the app's unit tests and its bench: it answers every get
// with a miss or with a fixed value, never answers at all (a hung cache), or refuses as memcached
// past its -c limit does (accepts, writes an error line, closes). Counts connections. Not an integration
// stand-in — tests that make claims about memcached itself run the real one in a container.
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";

export type FakeMemcachedMode = "miss" | "silent" | "refuse" | { hit: string };

export interface FakeMemcached {
  addr: string;
  port: number;
  connections(): number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port 0 = any free port). */
export async function fakeMemcached(mode: FakeMemcachedMode, port = 0): Promise<FakeMemcached> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const srv: Server = createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    if (mode === "refuse") {
      sock.end("ERROR Too many open connections\r\n");
      return;
    }
    let buf = Buffer.alloc(0);
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 24) {
        const len = 24 + buf.readUInt32BE(8);
        if (buf.length < len) break;
        const opcode = buf[1] ?? 0;
        const opaque = buf.readUInt32BE(12);
        buf = buf.subarray(len);
        if (mode !== "silent") sock.write(answer(mode, opcode, opaque));
      }
    });
  });
  await new Promise<void>((r) => srv.listen(port, "127.0.0.1", r));
  const bound = (srv.address() as AddressInfo).port;
  return {
    addr: `127.0.0.1:${bound}`,
    port: bound,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** get (opcode 0): "key not found" or the value with 4 bytes of flags; anything else: ok. */
function answer(mode: "miss" | { hit: string }, opcode: number, opaque: number): Buffer {
  const get = opcode === 0;
  const body = get && mode !== "miss" ? Buffer.concat([Buffer.alloc(4), Buffer.from(mode.hit)]) : Buffer.alloc(0);
  const head = Buffer.alloc(24);
  head[0] = 0x81;
  head[1] = opcode;
  head[4] = body.length > 0 ? 4 : 0; // extras length: the flags
  head.writeUInt16BE(get && mode === "miss" ? 1 : 0, 6);
  head.writeUInt32BE(body.length, 8);
  head.writeUInt32BE(opaque, 12);
  return Buffer.concat([head, body]);
}
