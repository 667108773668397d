// One gate decision, stated everywhere: each exit code from a recorded run (test/fixtures/runs),
// through the CLI, with the exit code, the last line, junit.xml and summary.md agreeing.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { judge } from "../../src/analyze/analyze.js";
import { decideGate } from "../../src/analyze/gate.js";
import { readRun } from "../../src/analyze/stored.js";
import { EXIT } from "../../src/exit.js";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/runs/${name}`, import.meta.url));

/** A copy of a recorded run, optionally changed, in a temporary folder (analyze writes into it). */
function copy(name: string, change?: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), "cascade-gate-"));
  cpSync(fixture(name), dir, { recursive: true });
  change?.(dir);
  return dir;
}
const edit = (dir: string, file: string, f: (s: string) => string) =>
  writeFileSync(join(dir, file), f(readFileSync(join(dir, file), "utf8")));

const cli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [fileURLToPath(new URL("../../bin/cascade.js", import.meta.url)), ...args], {
    timeout: 180_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

/** `cascade analyze` on the folder: its exit code, its last line, and junit.xml's counts. */
async function analyzed(dir: string) {
  const r = await cli("analyze", dir);
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  const junit = readFileSync(join(dir, "junit.xml"), "utf8");
  const failures = Number(/<testsuites [^>]*failures="(\d+)"/.exec(junit)?.[1]);
  const skipped = Number(/<testsuites [^>]*skipped="(\d+)"/.exec(junit)?.[1]);
  const gateCase = /<testcase [^>]*name="gate[^"]*"(\/>|><failure)/.exec(junit)?.[1];
  return { code: r.code, last, failures, skipped, gateGreen: gateCase === "/>", stderr: r.stderr };
}

describe("the gate, through `cascade analyze` on recorded runs", () => {
  it("0: the retry storm expects its cascade, so its SLO misses are waived and shown as such", async () => {
    const r = await analyzed(copy("retry-storm-metastable"));
    expect(r.code).toBe(EXIT.ok);
    expect(r.last).toMatch(/^gate: PASS — as expected: cascade; SLO missed and waived .*availability 23\.6 %.*\(exit 0\)$/);
    expect(r).toMatchObject({ failures: 0, skipped: 2, gateGreen: true });
  }, 60_000);

  it("4: shedding held but availability missed its SLO — the gate fails and every output says so", async () => {
    const dir = copy("shedding-held");
    const r = await analyzed(dir);
    expect(r.code).toBe(EXIT.sloFailed);
    expect(r.last).toBe("gate: FAIL — SLO availability 77.3 % (target ≥ 80.0 %) (exit 4)");
    expect(r).toMatchObject({ failures: 2, skipped: 0, gateGreen: false });
    const report = await cli("report", dir);
    expect(report.code, report.stderr).toBe(0);
    expect(readFileSync(join(dir, "summary.md"), "utf8")).toContain("**gate: FAIL — SLO availability 77.3 % (target ≥ 80.0 %) (exit 4)**");
    expect(readFileSync(join(dir, "report.html"), "utf8")).toContain('<p class="gate fail">gate: FAIL — SLO availability 77.3 %');
  }, 120_000);

  it("5: an expectation the run does not meet", async () => {
    const dir = copy("cold-cache-load-shift", (d) => edit(d, "scenario.yaml", (s) => `${s}\nexpect: { cascade: false }\n`));
    const r = await analyzed(dir);
    expect(r.code).toBe(EXIT.expectationFailed);
    expect(r.last).toBe("gate: FAIL — expect cascade cascade (target no cascade) (exit 5)");
    expect(r.gateGreen).toBe(false);
  }, 60_000);

  it("6: a baseline that was not under the pressure the scenario requires", async () => {
    const dir = copy("cold-cache-load-shift", (d) =>
      edit(d, "scenario.yaml", (s) => `${s}\nbaseline: { require: { db: { cpu: 90%..100% } } }\n`),
    );
    const r = await analyzed(dir);
    expect(r.code).toBe(EXIT.setupDidNotHold);
    expect(r.last).toMatch(/^gate: NO VERDICT — setup did not hold: db at \d+ % of its CPU.*\(exit 6\)$/);
    expect(r.gateGreen).toBe(false);
  }, 60_000);

  it("7: inconclusive — an empty samples.ndjson, and a run where no fault was applied — is never green", async () => {
    const empty = await analyzed(copy("shedding-held", (d) => writeFileSync(join(d, "samples.ndjson"), "")));
    expect(empty.code).toBe(EXIT.inconclusive);
    expect(empty.last).toMatch(/^gate: NO VERDICT — inconclusive: no load was recorded/);
    expect(empty.gateGreen).toBe(false);
    const noFault = copy("cold-cache-load-shift", (d) => {
      edit(d, "events.ndjson", (s) =>
        s
          .split("\n")
          .filter((l) => !l.includes('"type":"fault"'))
          .join("\n"),
      );
    });
    const r = await analyzed(noFault);
    expect(r.code).toBe(EXIT.inconclusive);
    expect(r.last).toMatch(/no fault was applied/);
    expect(r.gateGreen).toBe(false);
  }, 60_000);

  it("9: a fault that failed to apply makes the run invalid, whatever it measured", async () => {
    const failed = {
      type: "fault",
      action: "error",
      fault: "freeze-db",
      kind: "pause",
      time: "2026-11-23T11:06:03.889Z",
      planned_ms: 15000,
      actual_ms: 15000,
      lag_ms: 0,
      took_ms: 3,
      error: "apply failed: no such container",
    };
    const r = await analyzed(
      copy("cold-cache-load-shift", (d) => edit(d, "events.ndjson", (s) => `${s.trimEnd()}\n${JSON.stringify(failed)}\n`)),
    );
    expect(r.code).toBe(EXIT.invalidRun);
    expect(r.last).toBe("gate: NO VERDICT — invalid run: freeze-db: apply failed: no such container (exit 9)");
    expect(r.gateGreen).toBe(false);
  }, 60_000);

  it("3 and 130: a run that broke or was interrupted has no verdict, whatever it measured", () => {
    const r = readRun(fixture("cold-cache-load-shift"));
    const broke = judge({ ...r, status: "error", error: "container app-1 exited 1" }).gate;
    expect(broke).toMatchObject({ exit: EXIT.infrastructure, label: "NO VERDICT", pass: false });
    expect(broke?.line).toBe("gate: NO VERDICT — the run broke: container app-1 exited 1 (exit 3)");
    expect(judge({ ...r, status: "interrupted" }).gate).toMatchObject({ exit: EXIT.interrupted, pass: false });
    expect(decideGate(undefined, r.scenario).exit).toBe(EXIT.infrastructure);
  });

  it("a fault that never ends: recovery is judged from its start, not failed as 'no fault ended'", () => {
    const r = readRun(fixture("cold-cache-load-shift"));
    // Without its revert, the latency toxic stays on to the end: the trigger never ends.
    const faults = r.faults.filter((f) => f.action !== "revert");
    const a = judge({ ...r, faults, scenario: { ...r.scenario, slo: { ...r.scenario.slo, recovery: 60_000 } } });
    expect(a.recovery.recovered).toBeNull();
    const rec = a.slo.objectives.find((o) => o.name === "recovery");
    // users were back within the SLO a few seconds after the last fault (the start at 20 s)
    expect(rec?.measured).toMatch(/^\d+ s \(the fault never ended\)$/);
    expect(rec?.pass).toBe(true);
  });
});

describe("exit codes of the command line itself", () => {
  it("2: an invalid scenario; 8: a missing run folder; 64: usage errors; 0: --version and --help", async () => {
    const bad = join(mkdtempSync(join(tmpdir(), "cascade-gate-")), "bad.yaml");
    writeFileSync(bad, "name: x\nservices: {}\nload: { target: nope }\n");
    // Started together: each is a process of its own (tsx start-up dominates on a busy machine).
    const [run, validate, missing, option, argument, command, version, help] = await Promise.all([
      cli("run", bad),
      cli("validate", bad),
      cli("analyze", join(tmpdir(), "no-such-run-folder")),
      cli("run", "--no-such-option", bad),
      cli("analyze"),
      cli("no-such-command"),
      cli("--version"),
      cli("--help"),
    ]);
    expect(run.code).toBe(EXIT.invalidScenario);
    expect(validate.code).toBe(EXIT.invalidScenario);
    expect(missing.code).toBe(EXIT.badRecord);
    expect(option.code).toBe(EXIT.usage);
    expect(argument.code).toBe(EXIT.usage);
    expect(command.code).toBe(EXIT.usage);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(help.code).toBe(0);
    for (const code of Object.values(EXIT)) expect(help.stdout).toMatch(new RegExp(`^  ${code} +\\S`, "m"));
  }, 240_000);
});
