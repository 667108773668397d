// The timeline's own logic, with a runtime double standing in for Docker (the real thing is
// exercised in test/docker): when faults fire, that windows get reverted, that finish() reverts
// whatever is still active, and that failures become events instead of crashing the run.
import { describe, expect, it, vi } from "vitest";
import { Timeline, type FaultEvent } from "../../src/faults/scheduler.js";
import type { Fault } from "../../src/scenario/schema.js";
import type { Runtime } from "../../src/runtime/types.js";
import type { ToxiproxyApi, ToxicSpec } from "../../src/runtime/toxiproxy.js";

function doubles() {
  const calls: string[] = [];
  const toxics = new Set<string>();
  const runtime = {
    kill: async (s: string) => {
      calls.push(`kill ${s}`);
      if (s === "broken") throw new Error("no such container");
      return [`${s}-1`];
    },
    start: async (s: string) => {
      calls.push(`start ${s}`);
      return [`${s}-1`];
    },
  } as unknown as Runtime;
  const toxiproxy = {
    addToxic: async (p: string, t: ToxicSpec) => {
      toxics.add(`${p}/${t.name}`);
    },
    removeToxic: async (p: string, n: string) => {
      toxics.delete(`${p}/${n}`);
    },
    allToxics: async () =>
      [...toxics].map((k) => {
        const [proxy, toxic] = k.split("/") as [string, string];
        return { proxy, toxic };
      }),
  } as unknown as ToxiproxyApi;
  return { calls, toxics, ctx: { runtime, toxiproxy } };
}

const latency = (at: number, duration?: number): Fault => ({
  kind: "latency",
  at,
  link: "app->cache",
  latency: 100,
  jitter: 0,
  direction: "downstream",
  toxicity: 1,
  ...(duration !== undefined ? { duration } : {}),
});

describe("Timeline", () => {
  // On a fake clock (timers and performance.now): offsets and lags are exact, however busy the
  // machine. How late faults fire on a real one is each run's record (lag_ms in events.ndjson).
  it("applies faults at their offsets, reverts windows, and records the lag", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    try {
      const { calls, toxics, ctx } = doubles();
      const events: FaultEvent[] = [];
      const tl = new Timeline(
        [latency(50, 100), { kind: "kill", at: 120, service: "cache", signal: "SIGKILL" }, { kind: "start", at: 200, service: "cache" }],
        ctx,
        (e) => events.push(e),
      );
      tl.start(performance.now());
      await vi.advanceTimersByTimeAsync(119);
      expect(toxics.size).toBe(1);
      expect(calls).toEqual([]);
      await vi.advanceTimersByTimeAsync(150);
      await tl.finish();
      expect(calls).toEqual(["kill cache", "start cache"]);
      expect(toxics.size).toBe(0);
      expect(events.map((e) => `${e.action} ${e.fault} @${e.planned_ms} +${e.lag_ms}`)).toEqual([
        "apply latency#1 @50 +0",
        "apply kill#2 @120 +0",
        "revert latency#1 @150 +0",
        "apply start#3 @200 +0",
      ]);

      // Started 30 ms after the load (t0 in the past): what is overdue fires at once, and its
      // lag says by how much; the rest keeps its offsets.
      const late: FaultEvent[] = [];
      const tl2 = new Timeline(
        [
          { kind: "kill", at: 10, service: "cache", signal: "SIGKILL" },
          { kind: "kill", at: 50, service: "cache", signal: "SIGKILL" },
        ],
        doubles().ctx,
        (e) => late.push(e),
      );
      tl2.start(performance.now() - 30);
      await vi.advanceTimersByTimeAsync(20);
      await tl2.finish();
      expect(late.map((e) => [e.planned_ms, e.actual_ms, e.lag_ms])).toEqual([
        [10, 30, 20],
        [50, 50, 0],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("finish() reverts an open-ended fault and cancels faults not yet due", async () => {
    const { calls, toxics, ctx } = doubles();
    const events: FaultEvent[] = [];
    const tl = new Timeline([latency(0), { kind: "kill", at: 10_000, service: "cache", signal: "SIGKILL" }], ctx, (e) => events.push(e));
    tl.start(performance.now());
    await new Promise((r) => setTimeout(r, 30));
    expect(tl.activeFaults()).toEqual(["latency#1"]);
    await tl.finish();
    expect(toxics.size).toBe(0);
    expect(calls).toEqual([]);
    expect(events.map((e) => e.action)).toEqual(["apply", "revert"]);
  });

  it("finish() finds a toxic left on a proxy after every revert (a timed-out call that landed late), records a failed revert and removes it", async () => {
    const { toxics, ctx } = doubles();
    const events: FaultEvent[] = [];
    const tl = new Timeline([latency(0, 10)], ctx, (e) => events.push(e));
    tl.start(performance.now());
    toxics.add("app__cache/cascade-latency-99");
    await new Promise((r) => setTimeout(r, 40));
    await tl.finish();
    expect(toxics.size).toBe(0);
    expect(events.map((e) => `${e.action} ${e.kind} ${e.fault}${e.error ? `: ${e.error}` : ""}`)).toEqual([
      "apply latency latency#1",
      "revert latency latency#1",
      "error latency cascade-latency-99: revert failed: toxic still active on proxy app__cache after the run (removed)",
    ]);
  });

  it("turns a failing fault into an error event and goes on", async () => {
    const { calls, ctx } = doubles();
    const events: FaultEvent[] = [];
    const tl = new Timeline(
      [
        { kind: "kill", at: 0, service: "broken", signal: "SIGKILL" },
        { kind: "kill", at: 20, service: "cache", signal: "SIGKILL" },
      ],
      ctx,
      (e) => events.push(e),
    );
    tl.start(performance.now());
    await new Promise((r) => setTimeout(r, 60));
    await tl.finish();
    expect(calls).toEqual(["kill broken", "kill cache"]);
    expect(events[0]?.action).toBe("error");
    expect(events[0]?.error).toMatch(/apply failed: no such container/);
    expect(events[1]?.action).toBe("apply");
  });
});
