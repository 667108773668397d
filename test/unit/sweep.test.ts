// The sweep's own logic, without Docker: the grid, overrides written into a scenario and validated,
// the class of a run from its analysis, the regions and boundary, and the map rendered from a record.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { type Analysis, judge } from "../../src/analyze/analyze.js";
import type { Gate } from "../../src/analyze/gate.js";
import { readRun } from "../../src/analyze/stored.js";
import { ROOT } from "../../src/paths.js";
import { classify, majority, type PointClass } from "../../src/sweep/classify.js";
import { expand, parseSet, parseVary, SweepUsage } from "../../src/sweep/grid.js";
import { summaryMarkdown, writeMap, writeSweepCompare } from "../../src/sweep/map.js";
import { applyOverrides } from "../../src/sweep/override.js";
import { readSweep, SWEEP_SCHEMA_VERSION, type SweepRecord, writeSweep } from "../../src/sweep/record.js";
import { boundary, boundaryShift, cells, columns, regionSentence } from "../../src/sweep/regions.js";
import { estimate, openRecord, planSweep } from "../../src/sweep/sweep.js";

const NAIVE = join(ROOT, "scenarios/catalog/retry-storm.naive.yaml");

describe("grid", () => {
  it("expands a range with its unit, inclusive, and lists", () => {
    expect(parseVary("load.rate=20..40/10")).toEqual({ path: "load.rate", values: [20, 30, 40] });
    expect(parseVary("faults.brownout.duration=1s..2s/0.5s").values).toEqual(["1s", "1.5s", "2s"]);
    expect(parseVary("faults.brownout.duration=3s,6s,12s").values).toEqual(["3s", "6s", "12s"]);
    expect(parseVary("x=0.1..0.3/0.1").values).toEqual([0.1, 0.2, 0.3]);
  });
  it("refuses a malformed axis in one line naming the flag", () => {
    for (const [spec, msg] of [
      ["load.rate", /--vary load.rate: expected <path>=/],
      ["load.rate=20..40/0", /the step must be above 0/],
      ["load.rate=40..20/5", /"to" \(20\) is below "from" \(40\)/],
      ["d=1s..5ms/1s", /one unit/],
      ["load.rate=abc", /"abc" is not a number/],
      ["load.rate=1..1000/1", /1000 values; an axis takes at most 50/],
      ["load.rate=1,1", /appears twice/],
    ] as const)
      expect(() => parseVary(spec)).toThrowError(msg);
    expect(() => parseVary("load.rate")).toThrowError(SweepUsage);
  });
  it("puts the first axis slowest, ids in grid order; one or two axes", () => {
    const g = expand([parseVary("a=1,2"), parseVary("b=1s,2s,3s")]);
    expect(g.map((p) => `${p.id}:${p.values.join("/")}`)).toEqual(["p00:1/1s", "p01:1/2s", "p02:1/3s", "p03:2/1s", "p04:2/2s", "p05:2/3s"]);
    expect(() => expand([parseVary("a=1"), parseVary("b=1"), parseVary("c=1")])).toThrowError(/one or two axes/);
    expect(() => expand([parseVary("a=1"), parseVary("a=2")])).toThrowError(/varied twice/);
  });
  it("--set keeps a range or unit as text and a bare number as a number", () => {
    expect(parseSet("baseline.require.db.cpu=20%..90%")).toEqual({ path: "baseline.require.db.cpu", value: "20%..90%" });
    expect(parseSet("load.rate=30")).toEqual({ path: "load.rate", value: 30 });
  });
});

describe("overrides", () => {
  it("writes a named fault's field, every phase's rate and a baseline band, and the scenario validates", async () => {
    const src = await readFile(NAIVE, "utf8");
    const { scenario, source } = applyOverrides(src, NAIVE, [
      { path: "load.rate", value: 32, flag: "--vary load.rate=32" },
      { path: "faults.brownout.duration", value: "12s", flag: "--vary faults.brownout.duration=12s" },
      { path: "baseline.require.db.cpu", value: "20%..90%", flag: "--set" },
    ]);
    expect(scenario.load.phases.map((p) => p.rate)).toEqual([32]);
    expect(scenario.faults[0]?.name).toBe("brownout");
    expect((scenario.faults[0] as { duration?: number }).duration).toBe(12_000);
    expect(scenario.baseline?.require?.db?.cpu).toMatchObject({ min: 0.2, max: 0.9 });
    // The recorded text says which point it is, and keeps the file's comments.
    expect(source).toMatch(/^# cascade sweep point: load.rate=32, faults.brownout.duration=12s, baseline.require.db.cpu=20%..90%/);
    expect(source).toContain("Seed 003");
  });
  it("names the flag and what is wrong for a bad path or value", async () => {
    const src = await readFile(NAIVE, "utf8");
    const bad = (path: string, value: number | string) => () =>
      applyOverrides(src, NAIVE, [{ path, value, flag: `--vary ${path}=${value}` }]);
    expect(bad("faults.brownot.duration", "2s")).toThrowError(
      /^--vary faults.brownot.duration=2s: faults has no element "brownot" \(its names: brownout\)$/,
    );
    expect(bad("lod.rate", 2)).toThrowError(/lod.rate=2: the scenario has no "lod" \(it has: name, description, services/);
    expect(bad("load.rat", 2)).toThrowError(/the scenario refuses it — load.rat: unknown field "rat"/);
    expect(bad("load.rate", -5)).toThrowError(/load.phases\[0\].rate: must be at least 0/);
    expect(bad("faults.brownout.duration", "soon")).toThrowError(/faults\[0\].duration/);
    expect(bad("name.x", 1)).toThrowError(/name is a value \("retry-storm-naive"\), it has no "x"/);
  });
  it("plans every point before anything starts, estimates from the load, and refuses another grid on resume", async () => {
    const src = await readFile(NAIVE, "utf8");
    const plan = planSweep(NAIVE, src, [parseVary("load.rate=20,26"), parseVary("faults.brownout.duration=3s,6s")], [], 2);
    expect(plan.points).toHaveLength(4);
    expect(plan.load_s).toBe(36);
    expect(plan.recovery_limit_s).toBe(10);
    expect(estimate(plan, undefined)).toMatchObject({ runs: 8, per_run_s: 56, total_s: 448 });
    const dir = mkdtempSync(join(tmpdir(), "sweep-plan-"));
    const rec = openRecord(dir, plan, false);
    rec.points[0]?.runs.push(run("recovered", 60), run("recovered", 62));
    writeSweep(dir, rec);
    expect(estimate(plan, readSweep(dir))).toMatchObject({ runs: 6, per_run_s: 61 });
    expect(() => openRecord(dir, plan, false)).toThrowError(/already holds a sweep: pass --resume/);
    expect(openRecord(dir, plan, true).points[0]?.runs).toHaveLength(2);
    const other = planSweep(NAIVE, src, [parseVary("load.rate=20,30")], [], 1);
    expect(() => openRecord(dir, other, true)).toThrowError(
      /--resume: .* holds a sweep of retry-storm-naive over load.rate=20,26 × faults.brownout.duration=3s,6s/,
    );
  });
});

const gate = (outcome: Gate["outcome"], reason = "why"): Gate => ({
  label: "PASS",
  pass: outcome === "pass",
  outcome,
  exit: 0,
  reason,
  slo_waived: false,
  line: "",
});
const analysis = (over: Partial<Analysis> & { recovery: Analysis["recovery"] }): Analysis =>
  ({
    verdict: "cascade",
    primary: { name: "retries" },
    slo: { pass: false, objectives: [{ name: "availability", value: 0.5 }] },
    setup: { utilisation: { db: { cpu: 0.45 } }, failure: null },
    reasons: [],
    ...over,
  }) as unknown as Analysis;
const rec = (recovered: boolean | null, after: number | null, metastable: boolean | null): Analysis["recovery"] => ({
  recovered,
  after_s: after,
  limit_s: 10,
  metastable,
  sustained_by: metastable ? "retries (4.1 db calls per request against 1.0)" : null,
});

describe("classification", () => {
  it("recovered within the SLO's recovery time, late, metastable with its sustainer", () => {
    const c = (r: Analysis["recovery"]) =>
      classify({ status: "completed", analysis: analysis({ recovery: r }), gate: gate("expectation failed") });
    expect(c(rec(true, 0, false)).class).toBe("recovered");
    expect(c(rec(true, 10, false)).class).toBe("recovered");
    expect(c(rec(true, 14, true))).toMatchObject({ class: "recovered late", figures: { recovered_after_s: 14, limit_s: 10 } });
    expect(c(rec(false, null, true))).toMatchObject({
      class: "metastable",
      figures: {
        sustained_by: "retries (4.1 db calls per request against 1.0)",
        primary: "retries",
        availability: 0.5,
        baseline: { db: { cpu: 0.45 } },
      },
    });
    // Not down long enough after the trigger to say it stayed down.
    expect(c(rec(false, null, null))).toMatchObject({
      class: "no verdict",
      figures: { note: expect.stringMatching(/too short to call metastable/) },
    });
  });
  it("a recorded retry storm is metastable, sustained by retries", () => {
    const a = judge(readRun(fileURLToPath(new URL("../fixtures/runs/retry-storm-metastable", import.meta.url))));
    const c = classify({ status: "completed", analysis: a, gate: a.gate as Gate });
    expect(c.class).toBe("metastable");
    expect(c.figures.sustained_by).toMatch(/^retries \(/);
    expect(c.figures.recovered_after_s).toBeNull();
  });
  it("a run that could not judge is never counted as recovered", () => {
    const ok = analysis({ recovery: rec(true, 0, false) });
    expect(classify({ status: "interrupted", analysis: ok, gate: gate("interrupted", "the run was interrupted") })).toMatchObject({
      class: "no verdict",
      figures: { note: "the run was interrupted" },
    });
    expect(classify({ status: "error", gate: gate("harness error", "the run broke: x") }).class).toBe("no verdict");
    expect(classify({ status: "completed", analysis: ok, gate: gate("invalid run", "brownout: apply failed") }).class).toBe("no verdict");
    expect(
      classify({
        status: "completed",
        analysis: analysis({ verdict: "inconclusive", reasons: ["no fault applied"], recovery: rec(null, null, null) }),
        gate: gate("inconclusive"),
      }),
    ).toMatchObject({ class: "no verdict", figures: { note: "inconclusive: no fault applied" } });
    const setup = analysis({
      verdict: "setup did not hold",
      recovery: rec(true, 0, null),
      setup: { failure: "db at 96 % of its CPU; the scenario needs 20–90 %" } as Analysis["setup"],
    });
    expect(classify({ status: "completed", analysis: setup, gate: gate("setup did not hold") })).toMatchObject({
      class: "setup did not hold",
      figures: { note: "db at 96 % of its CPU; the scenario needs 20–90 %" },
    });
  });
  it("the majority of repeats, ties to the worse class, a split said", () => {
    expect(majority(["recovered", "recovered", "metastable"])).toEqual({ class: "recovered", split: true });
    expect(majority(["recovered", "metastable"])).toEqual({ class: "metastable", split: true });
    expect(majority(["metastable", "metastable", "metastable"])).toEqual({ class: "metastable", split: false });
  });
});

function run(c: PointClass, wall = 55, after: number | null = c === "recovered" ? 2 : c === "recovered late" ? 15 : null) {
  return {
    dir: `runs/x/${c.replace(/ /g, "-")}`,
    run_id: "abcd1234",
    status: "completed" as const,
    class: c,
    figures: {
      verdict: "cascade" as const,
      gate: "pass" as const,
      recovered_after_s: after,
      limit_s: 10,
      sustained_by: c === "metastable" ? "retries (3.9 db calls per request)" : null,
      primary: "retries",
      availability: 0.6,
      note: c === "setup did not hold" ? "db at 95 % of its CPU; the scenario needs 20–90 %" : null,
      baseline: null,
    },
    wall_s: wall,
  };
}

/** A 3 × 3 record: rows of classes by load (20, 26, 32) over brownouts 3s, 6s, 12s. */
function record(byLoad: PointClass[][], scenario = "retry-storm-naive"): SweepRecord {
  const loads = [20, 26, 32];
  const trig = ["3s", "6s", "12s"];
  let i = 0;
  return {
    schema_version: SWEEP_SCHEMA_VERSION,
    scenario,
    scenario_file: "scenarios/catalog/retry-storm.naive.yaml",
    axes: [
      { path: "load.rate", values: loads },
      { path: "faults.brownout.duration", values: trig },
    ],
    set: [{ path: "baseline.require.db.cpu", value: "20%..90%" }],
    repeat: 1,
    recovery_limit_s: 10,
    started: "2026-11-26T12:00:00Z",
    updated: "2026-11-26T12:10:00Z",
    wall_s: 500,
    points: loads.flatMap((x, xi) =>
      trig.map((y, yi) => {
        const c = byLoad[xi]?.[yi] as PointClass;
        return { id: `p0${i++}`, values: [x, y], runs: [run(c)], class: c, split: false };
      }),
    ),
  };
}

const NAIVE_MAP: PointClass[][] = [
  ["recovered", "recovered", "recovered"],
  ["recovered", "metastable", "metastable"],
  ["metastable", "metastable", "metastable"],
];

describe("regions", () => {
  it("states each load's region in a sentence with the values", () => {
    const r = record(NAIVE_MAP);
    expect(columns(r).map((c) => c.sentence)).toEqual([
      "At 20 req/s every brownout up to 12s recovered within the SLO's 10 s.",
      "At 26 req/s brownouts up to 3s recovered within the SLO's 10 s; brownouts of 6s or more stayed down after it ended (metastable, sustained by retries).",
      "At 32 req/s every brownout from 3s stayed down after it ended (metastable, sustained by retries).",
    ]);
    expect(regionSentence(r)).toBe("Regions: stable at 20 req/s; vulnerable at 26 req/s; metastable at 32 req/s.");
  });
  it("says late recoveries, setup failures and unordered columns as they are", () => {
    const r = record([
      ["recovered", "recovered late", "recovered late"],
      ["setup did not hold", "recovered", "metastable"],
      ["metastable", "recovered", "metastable"],
    ]);
    const s = columns(r).map((c) => c.sentence);
    expect(s[0]).toBe(
      "At 20 req/s brownouts up to 3s recovered within the SLO's 10 s; brownouts of 6s or more recovered late (after 15 s, past the SLO's 10 s).",
    );
    expect(s[1]).toBe(
      "At 26 req/s brownouts up to 6s recovered within the SLO's 10 s; brownouts of 12s or more stayed down after it ended (metastable, sustained by retries). 3s: setup did not hold (db at 95 % of its CPU; the scenario needs 20–90 %).",
    );
    expect(s[2]).toBe("At 32 req/s the classes are not ordered by brownout length: 3s metastable, 6s recovered, 12s metastable.");
  });
  it("a point's repeats: the majority, with how many agreed and the split marked", () => {
    const r = record(NAIVE_MAP);
    const p = r.points[5] as SweepRecord["points"][number];
    p.runs = [run("recovered", 49, 2), run("recovered", 57, 9), run("recovered late", 51, 16)];
    const m = majority(p.runs.map((x) => x.class));
    Object.assign(p, m);
    const md = summaryMarkdown(r, "charts/map.png");
    expect(md).toContain("[recovered ± (2 of 3 runs)](runs/x/recovered/report.html)");
    expect(md).toContain(
      "| p05 | 26, 12s | recovered (split) | recovered: 2 · 60.0 % · retries · -<br>recovered: 9 · 60.0 % · retries · -<br>recovered late: 16 ·",
    );
    expect(columns(r)[1]?.sentence).toMatch(/Repeats disagreed at some points \(marked ±\)\.$/);
  });
  it("draws the boundary on the edges between recovered and stayed-down cells only", () => {
    const segs = boundary(cells(record(NAIVE_MAP)));
    // 26 req/s: between 3s and 6s (horizontal edge); 20→26 at 6s and 12s, 26→32 at 3s (vertical edges).
    expect(segs).toEqual(
      expect.arrayContaining([
        { x: 0.5, y: 0.5, x2: 1.5, y2: 0.5 },
        { x: 0.5, y: 0.5, x2: 0.5, y2: 1.5 },
        { x: 0.5, y: 1.5, x2: 0.5, y2: 2.5 },
        { x: 1.5, y: -0.5, x2: 1.5, y2: 0.5 },
      ]),
    );
    expect(segs).toHaveLength(4);
    const withSetup = record([
      ["recovered", "setup did not hold", "recovered"],
      ["recovered", "recovered", "recovered"],
      ["recovered", "recovered", "recovered"],
    ]);
    expect(boundary(cells(withSetup))).toEqual([]);
  });
  it("says how far a mitigation moves the boundary", () => {
    const mit = record(
      [
        ["recovered", "recovered", "recovered"],
        ["recovered", "recovered", "recovered"],
        ["recovered", "metastable", "metastable"],
      ],
      "retry-storm-mitigated",
    );
    expect(boundaryShift(record(NAIVE_MAP), mit, ["naive", "mitigated"])).toEqual([
      "At 20 req/s: naive recovered from every brownout up to 12s; mitigated recovered from every brownout up to 12s — both recovered everywhere here.",
      "At 26 req/s: naive recovered up to 3s, was not back in time from 6s; mitigated recovered from every brownout up to 12s — the mitigation moved the boundary past the grid.",
      "At 32 req/s: naive was not back within the SLO's recovery time from the smallest (3s); mitigated recovered up to 3s, was not back in time from 6s — the boundary moved from 3s to 6s.",
    ]);
  });
});

describe("the map", () => {
  it("renders PNG, SVG with links to each run's report, map.html and summary.md with the grid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sweep-map-"));
    const r = record(NAIVE_MAP);
    const out = await writeMap(dir, r);
    expect(statSync(out.png).size).toBeGreaterThan(15_000);
    expect(readFileSync(out.png).subarray(1, 4).toString()).toBe("PNG");
    const svg = readFileSync(out.svg, "utf8");
    expect(svg).toContain('href="runs/x/metastable/report.html"');
    expect(svg).toContain("metastable");
    expect(svg).toContain("brownout length");
    expect(svg).toContain("load (req/s)");
    const html = readFileSync(out.html, "utf8");
    expect(html).toContain('<a href="runs/x/recovered/report.html">recovered</a>');
    expect(html).toContain("Regions: stable at 20 req/s; vulnerable at 26 req/s; metastable at 32 req/s.");
    const md = readFileSync(out.markdown, "utf8");
    expect(md).toContain("| brownout length \\ load (req/s) | 20 | 26 | 32 |");
    expect(md).toContain(
      "| 12s | [recovered](runs/x/recovered/report.html) | [metastable](runs/x/metastable/report.html) | [metastable](runs/x/metastable/report.html) |",
    );
    expect(md).toContain("![map](charts/map.png)");
    expect(md).toContain("Every point also sets: `baseline.require.db.cpu=20%..90%`.");

    const mit = record(
      [
        ["recovered", "recovered", "recovered"],
        ["recovered", "recovered", "recovered"],
        ["recovered", "metastable", "metastable"],
      ],
      "retry-storm-mitigated",
    );
    const mdir = mkdtempSync(join(tmpdir(), "sweep-map-m-"));
    writeSweep(mdir, mit);
    const cdir = mkdtempSync(join(tmpdir(), "sweep-cmp-"));
    const cmp = await writeSweepCompare(cdir, { dir, record: r }, { dir: mdir, record: mit });
    expect(statSync(cmp.png).size).toBeGreaterThan(25_000);
    expect(readFileSync(cmp.markdown, "utf8")).toContain("the mitigation moved the boundary past the grid");
    console.log(out.png, cmp.png);
    // sweep.json as written is valid against its committed schema (npm run schema:record).
    const ajv = new Ajv({ allErrors: true, strict: false });
    const check = ajv.compile(JSON.parse(readFileSync(join(ROOT, "schemas/sweep.schema.json"), "utf8")));
    const stored = JSON.parse(readFileSync(join(mdir, "sweep.json"), "utf8"));
    expect(check(stored), ajv.errorsText(check.errors)).toBe(true);
    expect(check({ ...stored, points: [{ ...stored.points[0], class: "fine" }] })).toBe(false);
  }, 60_000);
});

describe("the command line", () => {
  const cascade = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(ROOT, "bin/cascade.js"), "sweep", ...args], { encoding: "utf8", timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  it("--dry-run prints the grid and the estimate and starts nothing", () => {
    const r = cascade(
      NAIVE,
      "--vary",
      "load.rate=8..20/6",
      "--vary",
      "faults.brownout.duration=1s,3s,6s",
      "--set",
      "baseline.require.db.cpu=10%..90%",
      "--dry-run",
      "--out",
      join(tmpdir(), "never-made"),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain("p00  load.rate=8, faults.brownout.duration=1s\n");
    expect(r.out).toContain("p08  load.rate=20, faults.brownout.duration=6s\n");
    expect(r.out).toMatch(/9 points × 1 run\(s\); 9 run\(s\) to do: ~8\.4 min \(36 s of load \+ ~20 s of topology up/);
  }, 60_000);
  it("a bad path or value is one line naming the flag, exit 64; an invalid scenario file exit 2", () => {
    const bad = cascade(NAIVE, "--vary", "faults.brownot.duration=1s,2s", "--dry-run");
    expect(bad.code).toBe(64);
    expect(bad.err).toBe('--vary faults.brownot.duration=1s,2s: faults has no element "brownot" (its names: brownout)\n');
    const neg = cascade(NAIVE, "--vary", "load.rate=-5,5", "--dry-run");
    expect(neg.code).toBe(64);
    expect(neg.err.trim().split("\n")).toHaveLength(1);
    expect(cascade(NAIVE, "--vary", "load.rate=5", "--repeat", "0", "--dry-run").err).toBe("--repeat 0: give a whole number 1–20\n");
    expect(cascade(join(ROOT, "test/fixtures/scenarios/many-errors.yaml"), "--vary", "load.rate=5").code).toBe(2);
  }, 60_000);
});
