// Capacity checked before the first fault, through the CLI as a user runs it: a scenario whose
// baseline cannot be under the pressure it requires ends "setup did not hold" with exit 6, says so
// in one line, stops before the first fault (none applied), and records the database calibration.
import { readdirSync, readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../src/paths.js";
import { cli, readNdjson } from "./helpers.js";

describe("a baseline that cannot hold", () => {
  it("ends 'setup did not hold' with exit 6 before the first fault", async () => {
    const out = mkdtempSync(join(tmpdir(), "cascade-setup-"));
    const run = cli(["run", join(ROOT, "test/fixtures/scenarios/setup-cannot-hold.yaml"), "--out", out]);
    const code = await run.exit;
    const stdout = run.stdout();
    console.log(stdout);
    expect(code).toBe(6);
    expect(run.stderr()).toMatch(
      /setup did not hold: db at \d+ % of its CPU; the scenario needs 50–90 % \(baseline 2-7 s\) — stopping before the first fault/,
    );
    expect(stdout).toMatch(/^verdict: SETUP DID NOT HOLD — Setup did not hold: db at \d+ % of its CPU/m);
    expect(stdout).toMatch(/^calibration: db: 1 ms of CPU = [\d,]+ rows here/m);

    const [name] = readdirSync(join(out, "setup-cannot-hold"));
    const dir = join(out, "setup-cannot-hold", name as string);
    const events = readNdjson<{ type: string; action?: string }>(join(dir, "events.ndjson"));
    expect(events.filter((e) => e.type === "fault" && e.action === "apply")).toEqual([]);
    expect(events.filter((e) => e.type === "calibration")).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
    expect(result.status).toBe("completed");
    expect(result.analysis_file).toBe("analysis.json");
    const analysis = JSON.parse(readFileSync(join(dir, "analysis.json"), "utf8"));
    expect(analysis.verdict).toBe("setup did not hold");
    expect(analysis.gate).toMatchObject({ label: "NO VERDICT", exit: 6, pass: false });
    expect(stdout.trim().split("\n").at(-1)).toMatch(/^gate: NO VERDICT — setup did not hold: db at \d+ % of its CPU.* \(exit 6\)$/);
    // Stopped at the first fault (8 s), not at the end of the load (20 s).
    expect(result.totals.to_s).toBeLessThanOrEqual(9);
    expect(readFileSync(join(dir, "junit.xml"), "utf8")).toMatch(
      /<testcase [^>]*name="setup db cpu"><failure message="db at \d+ % of its CPU; the scenario needs 50–90 %"/,
    );
  }, 180_000);
});
