// The spine end to end on real containers: HAProxy → 2 app replicas → memcached + Postgres, with
// Toxiproxy on the app's links. A latency toxic and a cache kill/start are applied on the
// timeline, and the assertions are on what was measured, not on what was configured.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { beforeAll, describe, expect, it } from "vitest";
import { runScenarioFile, type RunResult } from "../../src/run/run.js";
import type { LoadSample } from "../../src/load/driver.js";
import { resolveSource } from "../../src/images/source.js";
import { stats } from "../../src/analyze/windows.js";
import { ROOT } from "../../src/paths.js";
import { RECORD_SCHEMA_VERSION, readSamples } from "../../src/observe/record.js";
import { objectsOfRun, readNdjson } from "./helpers.js";

const fixture = join(ROOT, "test/fixtures/scenarios/docker-foundation.yaml");
const out = mkdtempSync(join(tmpdir(), "cascade-it-"));

let result: RunResult;
let samples: LoadSample[];
let events: Array<Record<string, unknown>>;

const window = (label: RegExp) => {
  const w = result.windows.find((x) => label.test(x.label));
  if (!w) throw new Error(`no window ${label} in ${result.windows.map((x) => x.label).join(", ")}`);
  return w;
};

beforeAll(async () => {
  const lines: string[] = [];
  result = await runScenarioFile(fixture, {
    source: resolveSource().source,
    progress: (l) => lines.push(l),
    signal: new AbortController().signal,
    outDir: out,
  });
  if (result.status !== "completed") throw new Error(`run ${result.status}: ${result.error}\n${lines.join("\n")}`);
  samples = readSamples<LoadSample>(result.dir).load;
  events = readNdjson(join(result.dir, "events.ndjson"));
  for (const w of result.windows)
    console.log(`${w.label}: success ${w.success?.toFixed(3)}, p50 ${w.p50_ms} ms, worst p99 ${w.p99_worst_ms} ms`);
});

describe("cascade run on a real topology", () => {
  it("writes one sample per second of load, as it went", () => {
    expect(samples.length).toBe(40);
    expect(samples.map((s) => s.t)).toEqual([...Array(40).keys()]);
    const offered = samples.reduce((a, s) => a + s.offered, 0);
    expect(offered).toBe(4 * 35 + 16 * 50 + 20 * 20);
    // Open model: every planned arrival is sent or counted as dropped, even while the target stalls.
    const sent = samples.reduce((a, s) => a + s.sent, 0);
    expect(sent + samples.reduce((a, s) => a + s.dropped, 0)).toBe(offered);
    expect(sent).toBeGreaterThan(0.99 * offered);
  });

  it("serves the baseline fast and successfully", () => {
    const base = window(/^baseline$/);
    expect(base.success).toBeGreaterThan(0.99);
    expect(base.p50_ms).toBeLessThan(50);
  });

  it("measures the latency toxic on the cache link in client latency, and its removal", () => {
    const slow = window(/after slow-cache$/);
    const base = window(/^baseline$/);
    // Every request does a cache get through the toxic: +100 ms per request at least.
    expect(slow.p50_ms).toBeGreaterThanOrEqual(100);
    expect(slow.p50_ms! - base.p50_ms!).toBeGreaterThanOrEqual(90);
    const after = window(/after revert of slow-cache/);
    expect(after.p50_ms).toBeLessThan(50);
  });

  it("records the kill and the start as container events at their times", () => {
    const die = events.find((e) => e.type === "container" && e.service === "cache" && e.action === "die");
    const start = events.filter((e) => e.type === "container" && e.service === "cache" && e.action === "start");
    expect(die).toBeDefined();
    expect(start.length).toBeGreaterThanOrEqual(1);
    const kill = result.faults.find((f) => f.fault === "kill-cache" && f.action === "apply");
    const started = result.faults.find((f) => f.fault === "start-cache" && f.action === "apply");
    expect(kill?.detail?.containers).toEqual(["cache-1"]);
    expect(started?.detail?.containers).toEqual(["cache-1"]);
    for (const f of result.faults) expect(f.lag_ms).toBeLessThan(250);
  });

  it("shows the kill in what users saw, and the recovery after the start", () => {
    const down = window(/after kill-cache$/);
    const back = window(/after start-cache$/);
    // With the cache gone every read is a costly query on a CPU-limited database: it saturates.
    expect(down.p50_ms!).toBeGreaterThan(200);
    expect(down.success!).toBeLessThan(0.95);
    // Once the cache is back and warm, users are served again: the last 5 s are healthy.
    const tail = stats("tail", samples.slice(-5), samples.length - 5);
    expect(tail.success).toBeGreaterThan(0.97);
    expect(tail.p50_ms!).toBeLessThan(50);
    // Served more after the start than during the outage. Not the medians: while the backlog the
    // outage left drains, both can sit at the 1 s deadline (1001.983 ms each, beside a CPU hog,
    // with 0.076 served during the outage and 0.446 after the start).
    expect(back.success!).toBeGreaterThan(down.success! + 0.1);
  });

  it("tears everything down and says so", async () => {
    // toxiproxy, cache, db, 2 × app, lb each with its network holder, and the run's reaper
    expect(result.teardown?.containers).toBe(12);
    expect(result.teardown?.networks).toBe(1);
    expect(await objectsOfRun(result.run_id)).toEqual({ containers: 0, networks: 0 });
    const stored = JSON.parse(readFileSync(join(result.dir, "result.json"), "utf8")) as RunResult;
    expect(stored.status).toBe("completed");
  });

  it("writes result.json and analysis.json that are valid against their committed schemas", () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    for (const [file, schema] of [
      ["result.json", "result.schema.json"],
      ["analysis.json", "analysis.schema.json"],
    ] as const) {
      const check = ajv.compile(JSON.parse(readFileSync(join(ROOT, "schemas", schema), "utf8")));
      const record = JSON.parse(readFileSync(join(result.dir, file), "utf8")) as { schema_version?: number };
      expect(record.schema_version).toBe(RECORD_SCHEMA_VERSION);
      expect(check(record), `${file}: ${ajv.errorsText(check.errors)}`).toBe(true);
    }
  });
});
