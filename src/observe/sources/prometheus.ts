// Prometheus text exposition (what the reference app and many user images serve on /metrics),
// parsed to samples by metric name, each with its labels as a record: a selector matches labels by
// equality (or a regex, anchored as in PromQL), never by substring of the written line.
//
// The line tokenizer is parse-prometheus-text-format's (a port of Prometheus's own text parser:
// quoted values with \" \\ \n escapes, spaces anywhere the format allows them). Only sample lines
// are handed to it, with the page ending in a newline: given `# TYPE x histogram` it folds every
// series of the family into one, dropping their labels, _sum and _count (1.1.1), and it drops a last
// line with no newline after it. What follows the value — a timestamp, or an OpenMetrics exemplar
// (`# {trace_id="abc"} 1.0 1690000000`), which it keeps as a "timestamp" — is ignored: a reading is
// dated when it is taken.
import { request } from "node:http";
import parseText from "parse-prometheus-text-format";
import type { Endpoint } from "../../runtime/types.js";
import type { Matcher, Selector } from "../../scenario/selector.js";

export type { Matcher, Selector };

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** metric name → its samples, in page order */
export type Series = Map<string, Sample[]>;

/** Go's ParseFloat as the format uses it: decimals, exponents, ±Inf and NaN (any case). */
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
function parseValue(v: string): number | undefined {
  if (FLOAT.test(v)) return Number(v);
  const w = v.toLowerCase();
  if (w === "+inf" || w === "inf" || w === "+infinity" || w === "infinity") return Infinity;
  if (w === "-inf" || w === "-infinity") return -Infinity;
  if (w === "nan") return Number.NaN;
  return undefined;
}

const cut = (s: string) => (s.length > 120 ? `${s.slice(0, 117)}...` : s);

/** Throws on a page Prometheus would refuse (a malformed line or value), naming the line: a reading
 * from half a page would count some series and silently miss others. */
export function parsePrometheus(text: string): Series {
  const samples = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const out: Series = new Map();
  if (samples.length === 0) return out;
  let families: ReturnType<typeof parseText>;
  try {
    families = parseText(`${samples.join("\n")}\n`);
  } catch (e) {
    throw new Error(`not Prometheus text: ${cut((e as Error).message)}`);
  }
  for (const f of families)
    for (const m of f.metrics) {
      if (!("value" in m)) continue; // only typed families are folded, and types are not passed in
      const value = parseValue(m.value);
      if (value === undefined) throw new Error(`not Prometheus text: value ${JSON.stringify(cut(m.value))} of ${f.name}`);
      const list = out.get(f.name) ?? [];
      if (!out.has(f.name)) out.set(f.name, list);
      list.push({ labels: m.labels ?? {}, value });
    }
  return out;
}

const regexes = new Map<string, RegExp>();
/** PromQL regex matchers are anchored at both ends. */
function anchored(re: string): RegExp {
  let r = regexes.get(re);
  if (!r) {
    r = new RegExp(`^(?:${re})$`);
    if (regexes.size < 1000) regexes.set(re, r);
  }
  return r;
}

/** As PromQL: a label a sample does not carry has the empty value. */
export function matches(labels: Record<string, string>, m: Matcher): boolean {
  const v = labels[m.label] ?? "";
  switch (m.op) {
    case "=":
      return v === m.value;
    case "!=":
      return v !== m.value;
    case "=~":
      return anchored(m.value).test(v);
    case "!~":
      return !anchored(m.value).test(v);
  }
}

/** Sum of the samples a selector matches (NaN if one of them is NaN). 0 when the metric is on the
 * page but no series matches: client libraries add a label's series at its first count, and a 503
 * series that appears mid-run must rise from 0, not from nothing (a rate needs two readings). NaN
 * when the metric is not on the page at all. */
export function select(series: Series, sel: Selector): number {
  const samples = series.get(sel.name);
  if (!samples) return Number.NaN;
  let sum = 0;
  for (const s of samples) if (sel.matchers.every((m) => matches(s.labels, m))) sum += s.value;
  return sum;
}

/** Sum of every series of `name` whose labels equal those given (e.g. {status: "503"}); others may differ. */
export function sumOf(series: Series, name: string, labels: Record<string, string> = {}): number {
  return select(series, { name, matchers: Object.entries(labels).map(([label, value]) => ({ label, op: "=", value })) });
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
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`${path} answered ${res.statusCode}`));
        try {
          resolve(parsePrometheus(body));
        } catch (e) {
          reject(new Error(`${path}: ${(e as Error).message}`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${path} on ${ep.host}:${ep.port}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
