// Readiness probes, run from the harness against the endpoint the runtime gives (see endpoint()).
// A bare TCP connect is not proof: Docker's userland proxy accepts on the host port even when
// nothing listens in the container, then closes. So each probe waits for a real answer.
import { connect } from "node:net";
import { request } from "node:http";
import type { Endpoint } from "./types.js";

const PROBE_MS = 1000;

/** memcached answers "VERSION x.y.z" to "version". */
export function probeMemcached(ep: Endpoint): Promise<boolean> {
  return exchange(ep, "version\r\n", (buf) => buf.toString().startsWith("VERSION"));
}

/** Redis answers "+PONG" to PING; at maxclients it answers "-ERR max number of clients reached". */
export function probeRedis(ep: Endpoint): Promise<boolean> {
  return exchange(ep, "PING\r\n", (buf) => buf.toString().startsWith("+PONG"));
}

/** Postgres answers an SSLRequest with a single 'S' or 'N' byte once it accepts TCP connections. */
export function probePostgres(ep: Endpoint): Promise<boolean> {
  const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  return exchange(ep, sslRequest, (buf) => buf[0] === 0x53 || buf[0] === 0x4e);
}

/** Generic TCP: the connection is accepted and not closed by the peer within 300 ms. */
export function probeHold(ep: Endpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(ep.port, ep.host);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    let timer = setTimeout(() => done(false), PROBE_MS);
    sock.once("connect", () => {
      clearTimeout(timer);
      timer = setTimeout(() => done(true), 300);
    });
    sock.once("close", () => done(false));
    sock.once("error", () => done(false));
  });
}

export function probeHttp(ep: Endpoint, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: ep.host, port: ep.port, path, timeout: PROBE_MS, agent: false }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

function exchange(ep: Endpoint, send: string | Buffer, ok: (b: Buffer) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(ep.port, ep.host);
    const done = (v: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), PROBE_MS);
    sock.once("connect", () => sock.write(send));
    sock.once("data", (b) => done(ok(b)));
    sock.once("close", () => done(false));
    sock.once("error", () => done(false));
  });
}
