// The analysis pinned on runs recorded from real Docker topologies (test/fixtures/runs/*: the
// scenario as run, its plan, samples.ndjson, events.ndjson and result.json, copied unchanged).
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { analyze, checkExpectations, loadEvents } from "../../src/analyze/analyze.js";
import { readRun } from "../../src/analyze/stored.js";
import { junitXml } from "../../src/report/junit.js";
import { decideGate } from "../../src/analyze/gate.js";

const run = (name: string) => readRun(fileURLToPath(new URL(`../fixtures/runs/${name}`, import.meta.url)));

describe("cold cache: the cache killed in front of a CPU-limited database", () => {
  const r = run("cold-cache-load-shift");
  const a = analyze(r);

  it("is a cascade carried by load shift, with queuing", () => {
    expect(a.verdict).toBe("cascade");
    expect(a.primary?.name).toBe("load-shift");
    expect(a.primary?.numbers.db_load_multiple).toBeGreaterThan(3);
    expect(a.primary?.numbers.db_cpu_share_of_limit).toBeGreaterThan(0.9);
    expect(a.contributing.map((m) => m.name)).toContain("queuing");
    expect(a.mechanisms.find((m) => m.name === "retries")?.score).toBe(0);
  });

  it("draws the path from the killed cache through the database to users", () => {
    const order = a.path.map((p) => p.component);
    expect(order[0]).toBe("cache");
    expect(order.indexOf("db")).toBeLessThan(order.indexOf("users"));
  });

  it("recovers after the cache is back, within the default limit", () => {
    expect(a.recovery.recovered).toBe(true);
    expect(a.recovery.metastable).toBe(false);
  });

  it("checks an expect block and writes JUnit with one case per check", () => {
    const scenario = { ...r.scenario, expect: { cascade: true, mechanisms: ["load-shift" as const, "retries" as const] } };
    const e = checkExpectations(a, scenario);
    expect(e.pass).toBe(false);
    expect(e.checks.map((c) => [c.name, c.pass])).toEqual([
      ["cascade", true],
      ["mechanism load-shift", true],
      ["mechanism retries", false],
    ]);
    const xml = junitXml(r.scenario, { ...a, expectations: e, gate: decideGate({ ...a, expectations: e }, r.scenario) }, r.load.length);
    // the gate case fails with the expectation it names, and the expectation's own case fails
    expect(xml).toContain('<testsuite name="cascade docker-foundation" tests="4" failures="2" skipped="0"');
    expect(xml).toMatch(/name="gate \(verdict: cascade\)"><failure message="gate: FAIL — expect mechanism retries not found/);
    expect(xml).toContain('name="expect mechanism retries"><failure message="measured not found');
  });
});

describe("load shapes as triggers", () => {
  const phases = (ps: Array<{ duration: number; rate: number }>) =>
    loadEvents({ ...run("cold-cache-load-shift").scenario, load: { ...run("cold-cache-load-shift").scenario.load, phases: ps } });

  it("a spike (up, then down again) and a pause (zero, then load) are events; a warm-up ramp is not", () => {
    expect(
      phases([
        { duration: 10_000, rate: 50 },
        { duration: 5000, rate: 400 },
        { duration: 20_000, rate: 50 },
      ]).map((e) => [e.fault, e.action, e.actual_ms]),
    ).toEqual([
      ["spike@10s", "apply", 10_000],
      ["spike@10s", "revert", 15_000],
    ]);
    expect(
      phases([
        { duration: 10_000, rate: 50 },
        { duration: 20_000, rate: 0 },
        { duration: 1000, rate: 1000 },
        { duration: 10_000, rate: 50 },
      ]).map((e) => e.fault),
    ).toEqual(["pause@10s", "pause@10s", "spike@30s", "spike@30s"]);
    expect(
      phases([
        { duration: 4000, rate: 20 },
        { duration: 30_000, rate: 50 },
      ]),
    ).toEqual([]);
  });
});

describe("retry storm: a brief database brownout with four immediate attempts per request", () => {
  const a = analyze(run("retry-storm-metastable"));

  it("is a cascade carried by retries, with the amplification behind it", () => {
    expect(a.verdict).toBe("cascade");
    expect(a.primary?.name).toBe("retries");
    expect(a.primary?.numbers.amplification).toBeGreaterThan(3);
    expect(a.primary?.numbers.baseline_amplification).toBe(1);
  });

  it("stays down after the brownout ends: metastable, sustained by the retries", () => {
    expect(a.recovery.recovered).toBe(false);
    expect(a.recovery.metastable).toBe(true);
    expect(a.recovery.sustained_by).toMatch(/^retries/);
    expect(a.summary).toContain("metastable");
  });
});

describe("shedding: a spike past capacity into a bounded LIFO queue with a deadline", () => {
  const r = run("shedding-held");
  const a = analyze(r);

  it("holds: a share is refused, admitted requests succeed, and it is not a cascade", () => {
    expect(a.backpressure.held).toBe(true);
    expect(a.backpressure.shed_share).toBeGreaterThan(0.1);
    expect(a.backpressure.admitted_success).toBeGreaterThan(0.95);
    expect(a.verdict).toBe("no cascade");
    expect(a.recovery.recovered).toBe(true);
  });

  it("takes the spike itself as the trigger, named as a load change, not a fault; users last", () => {
    expect(a.path[0]).toMatchObject({ component: "load", why: expect.stringMatching(/^load change spike@8s to 400 req\/s began$/) });
    expect(a.path.at(-1)?.component).toBe("users");
    expect(checkExpectations(a, r.scenario).pass).toBe(true);
  });
});
