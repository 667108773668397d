// A user's image maps its own Prometheus metrics onto the readings the charts and mechanisms know:
// the scenario block, the plan, the sampler's reading and the sources the analysis names.
import { describe, expect, it } from "vitest";
import { appSource, dbCalls, total } from "../../src/analyze/figures.js";
import { buildSeries, hostsOf, mappedOf } from "../../src/analyze/series.js";
import type { LoadSample } from "../../src/load/driver.js";
import type { ComponentsSample } from "../../src/observe/observer.js";
import { mappedReading } from "../../src/observe/samplers.js";
import { parsePrometheus } from "../../src/observe/sources/prometheus.js";
import { parseScenario, type ScenarioIssue, ScenarioInvalid } from "../../src/scenario/load.js";
import { parseSelector, selectorText } from "../../src/scenario/selector.js";
import { planTopology } from "../../src/topology/plan.js";

const scenario = (metrics: string, kind = "image") =>
  [
    "name: t",
    "services:",
    "  web:",
    `    kind: ${kind}`,
    "    image: cascade/node",
    "    port: 8080",
    "    metrics:",
    ...metrics.split("\n").map((l) => `      ${l}`),
    "load:",
    "  target: web",
    "  phases: [{ duration: 5s, rate: 5 }]",
    "",
  ].join("\n");

function issuesOf(text: string): string[] {
  try {
    parseScenario(text, "s.yaml");
  } catch (e) {
    if (e instanceof ScenarioInvalid) return e.issues.map((i: ScenarioIssue) => `${i.line}:${i.col} ${i.field}: ${i.message}`);
    throw e;
  }
  throw new Error("expected the scenario to be invalid");
}

const MAPPING = [
  "requests: http_requests_total",
  "errors: 'http_requests_total{code=~\"5..\"}'",
  "in_flight: http_in_flight_requests",
  "dependency_calls: { name: db_calls_total, labels: { outcome: ok } }",
  "retries: db_retries_total",
].join("\n");

describe("a scenario's metrics block", () => {
  it("parses names, PromQL selectors and { name, labels }, and plans the endpoint on the service's port", () => {
    const s = parseScenario(scenario(MAPPING), "s.yaml");
    expect(s.services.web?.metrics?.errors).toEqual({ name: "http_requests_total", matchers: [{ label: "code", op: "=~", value: "5.." }] });
    const [web] = planTopology(s).containers;
    expect(web?.metrics).toMatchObject({ path: "/metrics", port: 8080 });
    expect(Object.keys(web?.metrics?.map ?? {})).toEqual(["requests", "requests_5xx", "in_flight", "retries", "db_queries"]);
    expect(web?.publish).toBeUndefined();
  });

  it("publishes a metrics port other than the service's", () => {
    const [web] = planTopology(parseScenario(scenario("port: 9100\npath: /m\nrequests: r_total"), "s.yaml")).containers;
    expect(web?.metrics).toMatchObject({ path: "/m", port: 9100 });
    expect(web?.publish).toEqual([9100]);
  });

  it("belongs to kind: image only, in one line", () => {
    const text = scenario("requests: r_total", "app").replace("    image: cascade/node\n    port: 8080\n", "");
    expect(issuesOf(text)).toEqual(["5:5 services.web.metrics: only for kind: image; web is kind: app"]);
  });

  it("refuses unknown keys, bad selectors and a block that maps nothing", () => {
    expect(issuesOf(scenario("requests: r_total\ninflight: x"))).toEqual(['9:7 services.web.metrics.inflight: unknown field "inflight"']);
    expect(issuesOf(scenario("requests: 'r_total{code~\"5\"}'"))).toEqual([
      '8:17 services.web.metrics.requests: not a metric selector, at column 13: expected =, !=, =~ or !~ after code (e.g. http_requests_total{code=~"5.."})',
    ]);
    expect(issuesOf(scenario("errors: 'r{code=~\"5(\"}'"))[0]).toMatch(/regular expression for code does not compile: "5\("/);
    expect(issuesOf(scenario("errors: { name: r, labels: { code: [5] } }"))).toEqual([
      "8:42 services.web.metrics.errors.labels.code: expected a label value, got [5]",
    ]);
    expect(issuesOf(scenario("errors: { name: r, label: { code: 5 } }"))).toEqual([
      '8:33 services.web.metrics.errors.label: unknown field "label" (known: name, labels)',
    ]);
    expect(parseScenario(scenario("errors: { name: r, labels: { code: 503 } }"), "s.yaml").services.web?.metrics?.errors?.matchers).toEqual(
      [{ label: "code", op: "=", value: "503" }],
    );
    expect(issuesOf(scenario("path: /metrics"))).toEqual([
      "8:7 services.web.metrics: map at least one of requests, errors, in_flight, queue, retries, dependency_calls",
    ]);
  });
});

describe("selectors", () => {
  it("read as PromQL writes them, escapes included, and print back the same", () => {
    const sel = parseSelector(' a:b_total { code =~ "5..", path!="/x\\"y" , } ');
    expect(sel).toEqual({
      name: "a:b_total",
      matchers: [
        { label: "code", op: "=~", value: "5.." },
        { label: "path", op: "!=", value: '/x"y' },
      ],
    });
    expect(typeof sel === "string" ? sel : selectorText(sel)).toBe('a:b_total{code=~"5..",path!="/x\\"y"}');
    expect(parseSelector("9lives")).toMatch(/column 1: expected a metric name/);
    expect(parseSelector('r{code="5"')).toMatch(/column 11: expected ',' or '}'/);
    expect(parseSelector('r{code="5}')).toMatch(/not closed/);
  });
});

describe("the mapped reading", () => {
  const page = [
    "# TYPE http_requests_total counter",
    'http_requests_total{code="200"} 90 # {trace_id="abc"} 1.0 1690000000',
    'http_requests_total{code="503"} 7',
    'http_requests_total{code="404"} 3',
    'http_requests_total{http_code="503"} 1000',
    "http_in_flight_requests 4",
    'db_calls_total{outcome="ok"} 120',
    'db_calls_total{outcome="error"} 5',
  ].join("\n");
  const s = parseScenario(scenario(MAPPING), "s.yaml");
  const map = planTopology(s).containers[0]?.metrics?.map ?? {};

  it("sums what each selector matches, by exact labels; a metric the page lacks is left out", () => {
    expect(mappedReading(parsePrometheus('http_requests_total{code="200"} 5'), map)).toEqual({ requests: 5, requests_5xx: 0 });
    expect(mappedReading(parsePrometheus(page), map)).toEqual({ requests: 1100, requests_5xx: 7, in_flight: 4, db_queries: 120 });
  });

  it("feeds the app layer's figures, each named as the user's metric", () => {
    const plan = planTopology(s);
    const load: LoadSample[] = Array.from({ length: 4 }, (_, t) => ({
      t,
      ts: "",
      offered: 10,
      sent: 10,
      dropped: 0,
      completed: 10,
      s2xx: 10,
      s3xx: 0,
      s4xx: 0,
      s5xx: 0,
      s503: 0,
      errors: 0,
      timeouts: 0,
      p50: 1,
      p95: 1,
      p99: 1,
      max: 1,
    }));
    const components: ComponentsSample[] = Array.from({ length: 5 }, (_, t) => ({
      kind: "components",
      t,
      ts: "",
      readings: { "web-1.metrics": { requests: 10 * t, db_queries: 30 * t, retries: 5 * t, in_flight: 2 } },
      missing: {},
    }));
    const series = buildSeries(load, components, hostsOf(plan), mappedOf(plan));
    const all = { from: 0, to: 4 };
    expect(series.services.web?.[1]).toMatchObject({ requests_per_s: 10, db_queries_per_s: 30, retries_per_s: 5, in_flight: 2 });
    expect(dbCalls(series, all, false)).toEqual({
      value: 120,
      requests: 40,
      source: 'web (its /metrics: db_calls_total{outcome="ok"})',
    });
    expect(total(series, "app", "retries_per_s", all)).toBe(20);
    expect(appSource(series, ["db_queries", "retries"])).toBe('web (its /metrics: db_calls_total{outcome="ok"}, db_retries_total)');
    // the same readings without the mapping are a plain image's: no app layer
    const plain = buildSeries(load, components, hostsOf(plan));
    expect(dbCalls(plain, all, false).value).toBeNull();
  });
});
