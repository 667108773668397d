// Prometheus text exposition (what the reference app and many user images serve on /metrics),
// parsed to flat series: `name{label="v",…}` → value, with label order kept as written.
import { request } from "node:http";
import type { Endpoint } from "../../runtime/types.js";

export type Series = Map<string, number>;

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\d+)?$/;

export function parsePrometheus(text: string): Series {
  const out: Series = new Map();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const v = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    if (!Number.isNaN(v)) out.set(`${m[1]}${m[2] ?? ""}`, v);
  }
  return out;
}

/** Sum of every series of `name` whose labels include all of `labels` (e.g. {status: "503"}). */
export function sumOf(series: Series, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  let found = false;
  for (const [key, v] of series) {
    const brace = key.indexOf("{");
    const n = brace < 0 ? key : key.slice(0, brace);
    if (n !== name) continue;
    const lbl = brace < 0 ? "" : key.slice(brace);
    if (want.every((w) => lbl.includes(w))) {
      sum += v;
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

/** GET a metrics page from one of the run's containers (the endpoint the runtime gives). */
export function scrape(ep: Endpoint, path = "/metrics", timeoutMs = 1000): Promise<Series> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ep.host, port: ep.port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(parsePrometheus(body)) : reject(new Error(`${path} answered ${res.statusCode}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`${path} on ${ep.host}:${ep.port}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
