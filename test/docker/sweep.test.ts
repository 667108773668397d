// The sweep machinery end to end through the CLI, on a short scenario: a 2 × 2 grid runs four real
// runs, each recorded with its own run folder and a class that follows from that run's analysis;
// the map is drawn; a resume of the finished sweep runs nothing and keeps every recorded run.
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../src/paths.js";
import { classify } from "../../src/sweep/classify.js";
import type { SweepRecord } from "../../src/sweep/record.js";
import { cli } from "./helpers.js";

const FIXTURE = join(ROOT, "test/fixtures/scenarios/sweep-small.yaml");
const ARGS = ["--vary", "load.rate=6,12", "--vary", "faults.brownout.duration=1s,2s"];

describe("cascade sweep", () => {
  it("runs a 2 × 2 grid, classifies each point from its run, draws the map, and a resume runs nothing", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "cascade-sweep-")), "s");
    const t0 = Date.now();
    const first = cli(["sweep", FIXTURE, ...ARGS, "--out", out]);
    const code = await first.exit;
    console.log(
      first
        .stderr()
        .split("\n")
        .filter((l) => l.startsWith("[") || l.startsWith("sweep"))
        .join("\n"),
      first.stdout(),
      `${Date.now() - t0} ms`,
    );
    expect([0, 7]).toContain(code);
    expect(first.stderr()).toMatch(/^sweep sweep-small: 4 points × 1 run\(s\); estimate 4 run\(s\) × 34 s ≈ 2\.3 min/m);
    expect(first.stderr()).toMatch(
      /^\[4\/4\] p03 load.rate=12, faults.brownout.duration=2s: (recovered|recovered late|metastable|setup did not hold|no verdict)/m,
    );

    const rec = JSON.parse(readFileSync(join(out, "sweep.json"), "utf8")) as SweepRecord;
    expect(rec.schema_version).toBe(1);
    expect(rec.points.map((p) => p.values)).toEqual([
      [6, "1s"],
      [6, "2s"],
      [12, "1s"],
      [12, "2s"],
    ]);
    for (const p of rec.points) {
      expect(p.runs).toHaveLength(1);
      const r = p.runs[0] as SweepRecord["points"][number]["runs"][number];
      const dir = join(out, r.dir);
      // The run that point names exists, ran that point's values, and its class is the one its own
      // record gives.
      expect(readFileSync(join(dir, "scenario.yaml"), "utf8")).toContain(
        `# cascade sweep point: load.rate=${p.values[0]}, faults.brownout.duration=${p.values[1]}`,
      );
      const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
      const analysis = JSON.parse(readFileSync(join(dir, "analysis.json"), "utf8"));
      expect(result.run_id).toBe(r.run_id);
      expect(classify({ status: result.status, analysis, gate: analysis.gate }).class).toBe(r.class);
      expect(p.class).toBe(r.class);
      expect(r.figures.limit_s).toBe(4);
      expect(existsSync(join(dir, "report.html"))).toBe(true);
    }
    expect(statSync(join(out, "charts/map.png")).size).toBeGreaterThan(15_000);
    const md = readFileSync(join(out, "summary.md"), "utf8");
    expect(md).toContain("| brownout length \\ load (req/s) | 6 | 12 |");
    expect(md).toMatch(/^Regions: |^\*\*(Regions|No region)/m);
    expect(readFileSync(join(out, "map.html"), "utf8")).toContain(`href="${rec.points[0]?.runs[0]?.dir}/report.html"`);

    // A finished sweep resumed: nothing runs, nothing recorded changes, the map is drawn again.
    const again = cli(["sweep", FIXTURE, ...ARGS, "--out", out, "--resume"]);
    expect(await again.exit).toBe(code);
    expect(again.stderr()).toMatch(/4 points × 1 run\(s\), 4 already recorded; estimate 0 run\(s\)/);
    expect(again.stderr()).not.toMatch(/: running/);
    const after = JSON.parse(readFileSync(join(out, "sweep.json"), "utf8")) as SweepRecord;
    expect(after.points.map((p) => p.runs.map((r) => r.run_id))).toEqual(rec.points.map((p) => p.runs.map((r) => r.run_id)));

    // The same folder without --resume is refused; another grid with --resume is refused.
    const refused = cli(["sweep", FIXTURE, ...ARGS, "--out", out]);
    expect(await refused.exit).toBe(64);
    expect(refused.stderr()).toMatch(/already holds a sweep: pass --resume/);
  }, 300_000);
});
