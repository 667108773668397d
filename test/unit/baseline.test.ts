// Capacity declared in time: the share-range unit, the baseline check on recorded series, which
// databases get calibrated, and the app's refusal to burn CPU on an uncalibrated database.
import { describe, expect, it } from "vitest";
import { checkSetup } from "../../src/analyze/baseline.js";
import type { Series } from "../../src/analyze/series.js";
import { checkCalibrated, ConfigError, loadConfig, rowsFor } from "../../src/app/config.js";
import { patchSettings } from "../../src/app/admin.js";
import { calibrationNeeds } from "../../src/calibrate/needs.js";
import { parseScenario, ScenarioInvalid } from "../../src/scenario/load.js";
import { parseShareRange } from "../../src/scenario/units.js";

const scenarioText = (baseline: string, db = "{ kind: postgres, cpus: 0.5 }", cpuMs = 10) => `
name: t
services:
  app: { kind: app, replicas: 2, config: { dbQueryCpuMs: ${cpuMs} } }
  db: ${db}
links: [{ from: app, to: db }]
load: { target: app, phases: [{ duration: 20s, rate: 50 }] }
faults: [{ name: k, at: 10s, kind: kill, service: db }]
${baseline}
`;

/** 20 s of users at `rate` and a database at `cpu` cores per second. */
function series(rate: number, cpu: number, inFlight = 0): Series {
  const seconds = 20;
  return {
    seconds,
    users: Array.from({ length: seconds }, () => ({
      offered: rate,
      sent: rate,
      dropped: 0,
      good: rate,
      s5xx: 0,
      s503: 0,
      success: 1,
      p50: 5,
      p99: 9,
    })),
    kinds: { app: "app", db: "postgres" },
    services: {
      app: Array.from({ length: seconds }, () => ({ in_flight: inFlight, workers: 16 })),
      db: Array.from({ length: seconds }, () => ({ cpu_cores: cpu, xact_commit_per_s: rate })),
    },
    gaps: {},
  };
}

const calibration = (ms: number) => [
  {
    service: "db",
    rows_per_cpu_ms: 5000,
    probe: { queries: 40, rows: 2e6, cpu_ms: 400, wall_ms: 800, idle_cpu_share: 0, counter: "backend" as const },
    check: { declared_ms: 10, rows: 50_000, measured_ms: ms },
  },
];

describe("share ranges", () => {
  it("reads bounded, open and single-bound ranges, above 100 % too", () => {
    expect(parseShareRange("40%..80%")).toEqual({ min: 0.4, max: 0.8 });
    expect(parseShareRange("..50%")).toEqual({ max: 0.5 });
    expect(parseShareRange("150%..")).toEqual({ min: 1.5 });
    expect(parseShareRange("60%")).toEqual({ min: 0.6 });
  });
  it("refuses what is not a range", () => {
    for (const bad of ["80%..40%", "..", "40..80", "a%..b%", "1%..2%..3%", -1]) expect(parseShareRange(bad)).toBeUndefined();
  });
});

describe("baseline check", () => {
  it("holds when the database is where the story needs it, and says what it measured", () => {
    const sc = parseScenario(scenarioText("baseline: { require: { db: { cpu: 40%..80% } } }"), "t.yaml");
    const setup = checkSetup(sc, series(30, 0.3), 10, []);
    expect(setup.window).toEqual({ from: 4, to: 9 });
    expect(setup.held).toBe(true);
    expect(setup.utilisation.db?.cpu).toBeCloseTo(0.6);
    expect(setup.failure).toBeNull();
    // 0.3 CPU over 30 transactions a second: 10 ms each.
    expect(setup.cpu_per_xact_ms).toEqual({ db: 10 });
  });

  it("does not hold when the database idles, in one plain line", () => {
    const sc = parseScenario(scenarioText("baseline: { require: { db: { cpu: 60%..85% } } }"), "t.yaml");
    const setup = checkSetup(sc, series(30, 0.155), 10, []);
    expect(setup.held).toBe(false);
    expect(setup.failure).toBe("setup did not hold: db at 31 % of its CPU; the scenario needs 60–85 % (baseline 4-9 s)");
  });

  it("a metric with no readings does not hold (never a silent pass)", () => {
    const sc = parseScenario(scenarioText("baseline: { require: { db: { cpu: ..90% } } }"), "t.yaml");
    const s = series(30, 0.1);
    s.services.db = s.services.db?.map(() => ({})) ?? [];
    const setup = checkSetup(sc, s, 10, []);
    expect(setup.held).toBe(false);
    expect(setup.checks[0]?.measured).toBeNull();
  });

  it("uncached demand is the per-read CPU measured at calibration × the request rate over the CPU limit", () => {
    const sc = parseScenario(scenarioText("baseline: { require: { db: { cpu-uncached: 150%.. } } }"), "t.yaml");
    // 50 req/s × 10 ms = 0.5 CPU = 100 % of 0.5: short of the 150 % the story needs.
    expect(checkSetup(sc, series(50, 0.01), 10, calibration(10)).held).toBe(false);
    // 100 req/s × 10 ms = 1 CPU = 200 %.
    const held = checkSetup(sc, series(100, 0.01), 10, calibration(10));
    expect(held.held).toBe(true);
    expect(held.utilisation.db?.["cpu-uncached"]).toBeCloseTo(2);
  });

  it("with nothing required, still measures every service", () => {
    const sc = parseScenario(scenarioText(""), "t.yaml");
    const setup = checkSetup(sc, series(30, 0.25, 4), 10, []);
    expect(setup.held).toBeNull();
    expect(setup.utilisation.db?.cpu).toBeCloseTo(0.5);
    expect(setup.utilisation.app?.busy).toBeCloseTo(0.25);
  });
});

describe("baseline validation", () => {
  const problems = (text: string) => {
    try {
      parseScenario(text, "t.yaml");
      return [];
    } catch (e) {
      if (e instanceof ScenarioInvalid) return e.issues.map((i) => `${i.line}:${i.field} ${i.message}`);
      throw e;
    }
  };
  it("names the line and field of a requirement that cannot be measured", () => {
    const out = problems(
      scenarioText("baseline: { require: { db: { cpu: 40%..80%, busy: ..50% }, nope: { cpu: ..1% } } }", "{ kind: postgres }"),
    );
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^9:baseline.require.db.cpu .*no cpus limit/),
        expect.stringMatching(/^9:baseline.require.db.busy .*reference app/),
        expect.stringMatching(/^9:baseline.require.nope .*unknown service "nope"/),
      ]),
    );
  });
  it("refuses a malformed range", () => {
    expect(problems(scenarioText("baseline: { require: { db: { cpu: 80%..40% } } }"))).toEqual([
      expect.stringMatching(/baseline.require.db.cpu not a range of shares/),
    ]);
  });
  it("needs a database whose reads cost declared CPU for cpu-uncached", () => {
    expect(problems(scenarioText("baseline: { require: { db: { cpu-uncached: 150%.. } } }", undefined, 0))).toEqual([
      expect.stringMatching(/no app linked to db declares dbQueryCpuMs/),
    ]);
  });
});

describe("calibration", () => {
  it("calibrates the databases that apps read at a declared CPU cost, including one set later by a fault", () => {
    const sc = parseScenario(
      `${scenarioText("", undefined, 0)}`.replace(
        "faults: [{ name: k, at: 10s, kind: kill, service: db }]",
        "faults: [{ name: heavier, at: 10s, kind: app, service: app, set: { dbQueryCpuMs: 25 } }]",
      ),
      "t.yaml",
    );
    expect(calibrationNeeds(sc)).toEqual([{ db: "db", apps: ["app"], declaredMs: 25 }]);
    expect(calibrationNeeds(parseScenario(scenarioText("", undefined, 0), "t.yaml"))).toEqual([]);
  });

  it("converts CPU time to rows with the host's figure, and never without one", () => {
    expect(rowsFor(10, 5137)).toBe(51_370);
    expect(rowsFor(0, 5137)).toBe(0);
    expect(() => checkCalibrated({ dbQueryCpuMs: 10 }, undefined, "CASCADE_APP_CONFIG")).toThrow(ConfigError);
    expect(() => loadConfig({ CASCADE_APP_CONFIG: '{"dbQueryCpuMs": 10}' })).toThrow(/needs DB_ROWS_PER_CPU_MS/);
    expect(loadConfig({ CASCADE_APP_CONFIG: '{"dbQueryCpuMs": 10}', DB_ROWS_PER_CPU_MS: "5137" }).dbRowsPerCpuMs).toBe(5137);
    expect(() => loadConfig({ DB_ROWS_PER_CPU_MS: "fast" })).toThrow(/positive number/);
  });

  it("refuses a live change to a CPU cost the database was not calibrated for", () => {
    const current = loadConfig({});
    expect(() => patchSettings(current, { dbQueryCpuMs: 5 }, undefined)).toThrow(/needs DB_ROWS_PER_CPU_MS/);
    expect(patchSettings(current, { dbQueryCpuMs: 5 }, 4000).dbQueryCpuMs).toBe(5);
  });
});
