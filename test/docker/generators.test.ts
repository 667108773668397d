// Load from two generator processes in a real run (`cascade run`, the reference app in Docker):
// the merged record holds the declared stream and each generator's figure; a generator killed
// mid-run is recorded (an event, its figure, the run's error) and the run is not green (exit 3).
import { readdirSync, readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/exit.js";
import type { GeneratorFigure } from "../../src/load/driver.js";
import { readSamples } from "../../src/observe/record.js";
import { ROOT } from "../../src/paths.js";
import { alive } from "../support/local.js";
import { cli, objectsOfRun, readNdjson } from "./helpers.js";

const fixture = join(ROOT, "test/fixtures/scenarios/generators.yaml");

/** The pids of the generator processes `parent` forked (their command line names the entry). */
function generatorPids(parent: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]?.split(" ")[1]);
      if (ppid === parent && readFileSync(`/proc/${d}/cmdline`, "utf8").includes("generator-entry.mjs")) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}

/** The generator pids of `parent` once there are `n` (polled for up to 10 s: they are forked just
 * after the "load:" line). */
async function waitPids(parent: number, n: number): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const pids = generatorPids(parent);
    if (pids.length >= n) return pids;
    await new Promise((r) => setTimeout(r, 100));
  }
  return generatorPids(parent);
}

interface Result {
  run_id: string;
  status: string;
  error?: string;
  load_generators?: GeneratorFigure[];
}

function record(out: string) {
  const [stamp] = readdirSync(join(out, "generators"));
  const dir = join(out, "generators", stamp as string);
  return {
    dir,
    result: JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as Result,
    load: readSamples<{ offered: number; sent: number; dropped: number }>(dir).load,
    events: readNdjson<{ type: string; index?: number; health?: string; reason?: string }>(join(dir, "events.ndjson")),
  };
}

describe("load from two generator processes", () => {
  it("the merged record is the declared stream, with each generator's share and health", async () => {
    const out = mkdtempSync(join(tmpdir(), "cascade-generators-"));
    const run = cli(["run", fixture, "--out", out]);
    await run.waitFor(/load: 100\/s for 12 s from 2 generator processes/);
    const pids = await waitPids(run.child.pid as number, 2);
    expect(pids).toHaveLength(2);
    const code = await run.exit;
    expect(pids.filter(alive)).toEqual([]);
    const r = record(out);
    const gens = r.result.load_generators ?? [];
    expect(gens.map((g) => [g.index, g.planned, g.offered, g.seconds])).toEqual([
      [0, 600, 600, 12],
      [1, 600, 600, 12],
    ]);
    expect(gens.some((g) => g.health === "lost")).toBe(false);
    expect(r.load.reduce((a, s) => a + s.offered, 0)).toBe(1200);
    expect(r.load.reduce((a, s) => a + s.sent + s.dropped, 0)).toBe(1200);
    expect(r.load.reduce((a, s) => a + s.sent, 0)).toBeGreaterThanOrEqual(1188);
    // A generator may fall behind on this shared machine: then, and only then, the run says so.
    if (gens.every((g) => g.health === "ok")) {
      expect(r.result.status).toBe("completed");
      expect(code).not.toBe(EXIT.infrastructure);
    } else {
      expect(r.result.error).toMatch(/load generator \d of 2 fell behind/);
      expect(code).toBe(EXIT.infrastructure);
    }
    expect(await objectsOfRun(r.result.run_id)).toEqual({ containers: 0, networks: 0 });
  });

  it("a generator killed mid-run is recorded as lost and the run is a harness error (exit 3)", async () => {
    const out = mkdtempSync(join(tmpdir(), "cascade-generators-kill-"));
    const run = cli(["run", fixture, "--out", out]);
    await run.waitFor(/^\s+5 s {2}sent/m, 300_000);
    const pids = await waitPids(run.child.pid as number, 2);
    expect(pids).toHaveLength(2);
    process.kill(pids[1] as number, "SIGKILL");
    const code = await run.exit;
    expect(code).toBe(EXIT.infrastructure);
    const last = run.stdout().trim().split("\n").at(-1) ?? "";
    expect(last).toMatch(
      /^gate: NO VERDICT — the run broke: .*load generator \d of 2 lost at \d+\.\d s: its process \d+ was killed by SIGKILL/,
    );
    expect(run.stderr()).toMatch(/load generator \d of 2 lost: its process \d+ was killed by SIGKILL/);
    const r = record(out);
    expect(r.result.status).toBe("error");
    expect(r.result.error).toContain(`its process ${pids[1]} was killed by SIGKILL`);
    const lost = r.result.load_generators?.find((g) => g.pid === pids[1]);
    expect(lost).toMatchObject({ health: "lost", planned: 600 });
    expect(lost?.sent).toBeLessThan(600);
    expect(r.events.filter((e) => e.type === "generator" && e.health === "lost").map((e) => e.index)).toEqual([lost?.index]);
    // the survivor's share went on to the end: every second is in the record
    expect(r.load).toHaveLength(12);
    // no generator outlives the run
    expect(pids.filter(alive)).toEqual([]);
    expect(await objectsOfRun(r.result.run_id)).toEqual({ containers: 0, networks: 0 });
  });
});
