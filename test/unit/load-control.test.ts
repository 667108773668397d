// Steering a running load (a game day's rate box, pause, burst and halt): a replan changes only
// what is still to come, the samples count what was really offered, and the profile as applied
// reads back as phases that replay it.
import { describe, expect, it } from "vitest";
import { LoadControl, LoadNotRunning, runLoad } from "../../src/load/driver.js";
import { Schedule } from "../../src/load/schedule.js";
import { localTarget as target } from "../support/local.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Schedule.replan", () => {
  it("keeps every arrival before the cut and continues with the new phases", () => {
    const s = new Schedule([{ duration: 10_000, rate: 100 }]);
    const before = Array.from({ length: 250 }, (_, k) => s.timeOf(k));
    s.replan(2_500, [{ duration: 1_000, rate: 10 }]);
    expect(s.totalMs).toBe(3_500);
    expect(s.total).toBe(250 + 10);
    for (let k = 0; k < 250; k++) expect(s.timeOf(k)).toBe(before[k]);
    expect(s.phasesUntil(3_500)).toEqual([
      { duration: 2_500, rate: 100 },
      { duration: 1_000, rate: 10 },
    ]);
  });

  it("cuts a ramp where it got to", () => {
    const s = new Schedule([{ duration: 10_000, rate: 0, to: 100 }]);
    s.replan(5_000, []);
    expect(s.phasesUntil(10_000)).toEqual([{ duration: 5_000, rate: 0, to: 50 }]);
    expect(s.total).toBe(new Schedule([{ duration: 5_000, rate: 0, to: 50 }]).total);
  });
});

describe("LoadControl", () => {
  it("changes the rate, pauses, bursts and stops a running load; applied() replays it", async (ctx) => {
    const t = await target(ctx);
    const control = new LoadControl();
    expect(() => control.setRate(10)).toThrow(LoadNotRunning);
    const run = runLoad({ url: t.url, phases: [{ duration: 60_000, rate: 20 }], timeout: 1000, connections: 20 }, { control });
    await sleep(1_000);
    control.setRate(100);
    await sleep(1_000);
    control.setRate(0);
    await sleep(1_000);
    control.burst(200, 500, 0);
    await sleep(1_000);
    const stopped = control.stop();
    const summary = await run;
    expect(control.running).toBe(false);
    expect(() => control.setRate(10)).toThrow(LoadNotRunning);
    // The load ended where it was stopped, not at its 60 s horizon.
    expect(summary.samples.length).toBe(Math.ceil(stopped / 1000));
    const applied = control.applied();
    expect(applied.map((p) => p.rate)).toEqual([20, 100, 0, 200, 0]);
    const total = applied.reduce((a, p) => a + p.duration, 0);
    expect(Math.abs(total - stopped)).toBeLessThan(1);
    // What was offered is what the applied phases plan, and every one of them reached the server.
    const planned = new Schedule(applied).total;
    expect(summary.totals.offered).toBe(planned);
    expect(summary.totals.sent).toBe(planned);
    expect(t.count()).toBe(planned);
    // about 20 + 100 + 0 + 100 (timer lag moves each cut by a few ms)
    expect(planned).toBeGreaterThan(200);
    expect(planned).toBeLessThan(240);
  });
});
