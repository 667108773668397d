// HAProxy's own view from its stats CSV: per frontend, backend and server, the queue, sessions,
// health state, 5xx it returned (504 on server timeout, 503 with no server up), requests received,
// sessions sent to each server, and the retries and redispatches it made — the LB's own layer of
// amplification.
import { request } from "node:http";
import type { Endpoint } from "../../runtime/types.js";

export interface HaproxyRow {
  proxy: string;
  server: string;
  /** requests waiting for a server slot */
  qcur: number;
  /** current sessions */
  scur: number;
  /** UP, DOWN, OPEN (frontend), no check… */
  status: string;
  hrsp_5xx: number;
  /** connection errors and server-side aborts */
  econ: number;
  eresp: number;
  /** cumulative sessions (a server's: every attempt sent to it, retries included) */
  stot: number;
  /** HTTP requests received (frontends) */
  req_tot: number;
  /** retries and redispatches to another server (backends, servers) */
  wretr: number;
  wredis: number;
}

const num = (v: string | undefined) => (v === undefined || v === "" ? 0 : Number(v));

export function parseHaproxyCsv(text: string): HaproxyRow[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines.shift()?.replace(/^# /, "").split(",") ?? [];
  const col = (name: string) => header.indexOf(name);
  const at = {
    px: col("pxname"),
    sv: col("svname"),
    q: col("qcur"),
    s: col("scur"),
    st: col("status"),
    h5: col("hrsp_5xx"),
    ec: col("econ"),
    er: col("eresp"),
    stot: col("stot"),
    req: col("req_tot"),
    wretr: col("wretr"),
    wredis: col("wredis"),
  };
  return lines.map((l) => {
    const f = l.split(",");
    return {
      proxy: f[at.px] ?? "",
      server: f[at.sv] ?? "",
      qcur: num(f[at.q]),
      scur: num(f[at.s]),
      status: f[at.st] ?? "",
      hrsp_5xx: num(f[at.h5]),
      econ: num(f[at.ec]),
      eresp: num(f[at.er]),
      stot: num(f[at.stot]),
      req_tot: num(f[at.req]),
      wretr: num(f[at.wretr]),
      wredis: num(f[at.wredis]),
    };
  });
}

export function haproxyStats(ep: Endpoint, timeoutMs = 1000): Promise<HaproxyRow[]> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ep.host, port: ep.port, path: "/stats;csv", timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(parseHaproxyCsv(body)) : reject(new Error(`stats answered ${res.statusCode}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`haproxy stats on ${ep.host}:${ep.port}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
