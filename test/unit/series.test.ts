import { describe, expect, it } from "vitest";
import { buildSeries } from "../../src/analyze/series.js";
import type { LoadSample } from "../../src/load/driver.js";
import type { ComponentsSample } from "../../src/observe/observer.js";

const load = (n: number): LoadSample[] =>
  Array.from({ length: n }, (_, t) => ({
    t,
    ts: new Date(t * 1000).toISOString(),
    offered: 50,
    sent: 50,
    dropped: 0,
    completed: 50,
    s2xx: 50,
    s3xx: 0,
    s4xx: 0,
    s5xx: 0,
    s503: 0,
    errors: 0,
    timeouts: 0,
    p50: 5,
    p95: 8,
    p99: 9,
    max: 10,
  }));

const hosts = { "app-1": ["app", "app"] as [string, string] };

describe("counters aligned to seconds", () => {
  it("a steady 50 queries/s stays steady when the app answers its /metrics late every other second", () => {
    // The reading of second k is asked for at k s; a busy app answers every other one 0.8 s late.
    // Differencing per nominal second gave 50, 2, 98, 2, 98 (seen at a debrief); per real time, 50.
    const at = (k: number) => (k % 2 === 1 ? k + 0.8 : k + 0.05);
    const components: ComponentsSample[] = Array.from({ length: 9 }, (_, k) => ({
      kind: "components",
      t: k,
      ts: "",
      readings: { "app-1.metrics": { db_queries: at(k) * 50 } },
      missing: {},
      at: { "app-1.metrics": at(k) },
    }));
    const s = buildSeries(load(8), components, hosts);
    const rates = (s.services.app ?? []).map((r) => r.db_queries_per_s);
    expect(rates).toHaveLength(8);
    for (const r of rates) expect(r).toBeCloseTo(50, 6);

    // The same readings dated at their nominal second (what an older record holds) zig-zag.
    const undated = components.map(({ at: _, ...c }) => c);
    const old = (buildSeries(load(8), undated, hosts).services.app ?? []).map((r) => r.db_queries_per_s);
    expect(Math.max(...(old as number[])) - Math.min(...(old as number[]))).toBeGreaterThan(60);
  });

  it("readings missing for seconds spread their increase over the gap, and a restart counts from zero", () => {
    const reading = (t: number, v: number): ComponentsSample => ({
      kind: "components",
      t,
      ts: "",
      readings: { "app-1.metrics": { requests: v } },
      missing: {},
      at: { "app-1.metrics": t },
    });
    const gap = (t: number): ComponentsSample => ({ kind: "components", t, ts: "", readings: {}, missing: { "app-1.metrics": "refused" } });
    // 10/s, then no answer for seconds 2-3, then 40 more over those 3 s; then a restart to 5.
    const s = buildSeries(load(5), [reading(0, 0), reading(1, 10), gap(2), gap(3), reading(4, 40), reading(5, 5)], hosts);
    expect((s.services.app ?? []).map((r) => r.requests_per_s)).toEqual([10, 10, 10, 10, 5]);
    expect(s.gaps.app).toBe(2);
  });
});
