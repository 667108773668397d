// A user's own image serving its own metric names: a real container (node in the reference app's
// image, running a dozen lines given as its command) answers requests, 1 in 5 with a 503, and counts
// them on /metrics the way real services do — an exemplar on one line, a label whose name ends in
// the mapped one (upstream_status), a typed histogram, escaped label values, decoy series of the
// mapped metrics. A `cascade run` maps those names in its scenario; the recorded series must show
// exactly what the page counted, and the analysis must name the user's metrics as its sources.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { readRun } from "../../src/analyze/stored.js";
import { buildSeries, hostsOf, mappedOf, type Series } from "../../src/analyze/series.js";
import { ensureImages } from "../../src/images/build.js";
import { resolveSource } from "../../src/images/source.js";
import { type RunResult, runScenario } from "../../src/run/run.js";
import { parseScenario } from "../../src/scenario/load.js";

/** The user's service (its comments say what it counts), given to node as its command line. */
const SERVER = readFileSync(fileURLToPath(new URL("user-metrics-server.cjs", import.meta.url)), "utf8");

const out = mkdtempSync(join(tmpdir(), "cascade-user-metrics-"));

const scenario = (image: string) => `
name: user-metrics
services:
  web:
    kind: image
    image: ${image}
    port: 8080
    command: [node, -e, ${JSON.stringify(SERVER)}]
    ready: { http: /metrics, timeout: 20s }
    metrics:
      requests: http_requests_total
      errors: 'http_requests_total{status=~"5.."}'
      in_flight: http_in_flight_requests
      queue: 'work_queue_depth{queue="main"}'
      retries: db_retries_total
      dependency_calls: { name: db_calls_total, labels: { outcome: ok } }
load:
  target: web
  timeout: 2s
  phases: [{ duration: 5s, rate: 20 }, { duration: 3s, rate: 60 }, { duration: 4s, rate: 20 }]
slo: { availability: 50% }
`;

const sumOf = (s: Series, key: string) => (s.services.web ?? []).reduce((a, r) => a + (r[key] ?? 0), 0);

describe("a user's image with its own metric names, mapped in the scenario", () => {
  let r: RunResult;
  let s: Series;
  beforeAll(async () => {
    const source = resolveSource().source;
    // the reference app's image has node; the service runs the lines above instead of the app
    const { refs } = await ensureImages({ source, roles: ["app"], progress: () => {} });
    const text = scenario(refs.app as string);
    r = await runScenario(parseScenario(text, "inline.yaml"), text, {
      source,
      progress: () => {},
      signal: new AbortController().signal,
      outDir: out,
    });
    if (r.status !== "completed" || !r.analysis) throw new Error(`run ${r.status}: ${r.error}`);
    const run = readRun(r.dir);
    s = buildSeries(run.load, run.components, hostsOf(run.plan), mappedOf(run.plan));
  });

  it("records the mapped values: requests, errors by exact labels, gauges, dependency calls", () => {
    const requests = sumOf(s, "requests_per_s");
    const errors = sumOf(s, "requests_5xx_per_s");
    const calls = sumOf(s, "db_queries_per_s");
    const users503 = s.users.reduce((a, u) => a + (u.s503 ?? 0), 0);
    const sent = r.totals.sent;
    const seen = (s.services.web ?? []).filter((x) => x.requests_per_s !== undefined).length;
    console.log(
      `sent ${sent}, users got ${users503} 503s; mapped over ${seen} s: requests ${requests.toFixed(1)}, errors ${errors.toFixed(1)} (${((100 * errors) / requests).toFixed(1)} %), dependency calls ${calls.toFixed(1)} (${(calls / requests).toFixed(3)} per request)`,
    );
    expect(seen).toBeGreaterThanOrEqual(s.seconds - 1);
    // every request the users sent, counted by the app within the run's seconds
    expect(requests).toBeGreaterThan(0.9 * sent);
    expect(requests).toBeLessThan(1.05 * sent);
    // 1 in 5 by status; a substring match would add upstream_status="503" (2 in 5)
    expect(errors / requests).toBeGreaterThan(0.18);
    expect(errors / requests).toBeLessThan(0.22);
    expect(Math.abs(errors - users503)).toBeLessThan(0.1 * users503 + 2);
    // outcome="ok" only: 2 per request (the "error" series would make it 3)
    expect(calls / requests).toBeGreaterThan(1.95);
    expect(calls / requests).toBeLessThan(2.05);
    const gauges = (s.services.web ?? []).filter((x) => x.in_flight !== undefined);
    expect(gauges.length).toBeGreaterThanOrEqual(s.seconds - 1);
    for (const x of gauges) expect([x.in_flight, x.queue_depth]).toEqual([3, 5]);
  });

  it("the analysis reads them as the app layer and names the user's metrics as their source", () => {
    const retries = r.analysis?.mechanisms.find((m) => m.name === "retries");
    console.log(retries?.sources?.join("\n"));
    // 2 attempts for every call all along: its own layer is 2× at baseline, and unchanged after
    // (×1 against the baseline, as the LB layer is read)
    expect(retries?.numbers.baseline_app_layer).toBeCloseTo(2, 1);
    expect(retries?.numbers.app_layer).toBeCloseTo(1, 1);
    expect(retries?.sources).toContain('database calls: web (its /metrics: db_calls_total{outcome="ok"})');
    expect(retries?.sources).toContain(
      'app layer: web (its /metrics: db_calls_total{outcome="ok"}, db_retries_total): attempts / (attempts − retries), against its baseline',
    );
    const queuing = r.analysis?.mechanisms.find((m) => m.name === "queuing");
    expect(queuing?.sources).toContain('app queue: web (its /metrics: work_queue_depth{queue="main"})');
  });
});
