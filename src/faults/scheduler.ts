// Applies faults at their planned offsets from load start and reverts them at the end of their
// window — or, whatever happens, in finish(), which the run calls from its `finally`.
import type { Fault } from "../scenario/schema.js";
import { moduleFor } from "./registry.js";
import { faultLabel, type Applied, type FaultContext } from "./types.js";

export interface FaultEvent {
  type: "fault";
  action: "apply" | "revert" | "error";
  fault: string;
  kind: Fault["kind"];
  time: string;
  /** Offsets from load start, ms. lag = when we began acting minus when we planned to. */
  planned_ms: number;
  actual_ms: number;
  lag_ms: number;
  /** How long the action took (a start waits for readiness). */
  took_ms: number;
  detail?: Record<string, unknown>;
  error?: string;
  /** who acted, for a fault applied or reverted by hand (a game day); absent for the timeline's */
  by?: string;
}

export class Timeline {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly active = new Map<string, { fault: Fault; applied: Applied }>();
  private readonly inFlight = new Set<Promise<void>>();
  private t0 = 0;
  private finished = false;
  /** the scenario's faults, and those applied by hand */
  private readonly faults: Fault[];

  constructor(
    faults: Fault[],
    private readonly ctx: FaultContext,
    private readonly emit: (e: FaultEvent) => void,
  ) {
    this.faults = [...faults];
  }

  /** t0: performance.now() at load start; offsets are measured from it. */
  start(t0: number): void {
    this.t0 = t0;
    this.faults.forEach((f, i) => {
      const label = faultLabel(f, i);
      this.at(f.at, () => this.apply(f, label));
      const duration = "duration" in f ? f.duration : undefined;
      if (duration !== undefined) this.at(f.at + duration, () => this.revert(label, f.at + duration));
    });
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  private at(ms: number, fn: () => Promise<unknown>): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.finished) return;
        const p: Promise<void> = fn()
          .then(() => {})
          .finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      },
      Math.max(0, ms - this.now()),
    );
    this.timers.add(timer);
  }

  private async apply(f: Fault, label: string, by?: string): Promise<FaultEvent> {
    const actual = this.now();
    const who = by === undefined ? {} : { by };
    try {
      const applied = await moduleFor(f).apply(f, this.ctx);
      if (applied.revert) this.active.set(label, { fault: f, applied });
      return this.record("apply", f, label, by === undefined ? f.at : actual, actual, { detail: applied.detail, ...who });
    } catch (e) {
      return this.record("error", f, label, by === undefined ? f.at : actual, actual, {
        error: `apply failed: ${(e as Error).message}`,
        ...who,
      });
    }
  }

  private async revert(label: string, planned: number | undefined, by?: string): Promise<FaultEvent | undefined> {
    const entry = this.active.get(label);
    if (!entry?.applied.revert) return undefined;
    this.active.delete(label);
    const actual = this.now();
    const who = by === undefined ? {} : { by };
    try {
      const detail = (await entry.applied.revert()) ?? {};
      return this.record("revert", entry.fault, label, planned ?? actual, actual, { detail, ...who });
    } catch (e) {
      return this.record("error", entry.fault, label, planned ?? actual, actual, {
        error: `revert failed: ${(e as Error).message}`,
        ...who,
      });
    }
  }

  /** Applies a fault now, by hand (a game day's form): recorded like a timed one, planned = actual,
   * with who pressed it. `label` must be new. Refused once the timeline finished. */
  applyNow(f: Fault, label: string, by: string): Promise<FaultEvent> {
    if (this.finished) return Promise.reject(new Error("the run is ending: no fault can be applied"));
    if (this.active.has(label)) return Promise.reject(new Error(`a fault named ${label} is active`));
    this.faults.push(f);
    return this.track(this.apply(f, label, by));
  }

  /** Reverts one active fault now, by hand; undefined when it is not active (or has no revert). */
  revertNow(label: string, by: string): Promise<FaultEvent | undefined> {
    return this.track(this.revert(label, undefined, by));
  }

  /** Reverts every active fault now, all at once (a game day's halt); the timeline's later
   * faults still come at their times. */
  async revertAll(by: string): Promise<FaultEvent[]> {
    const done = await Promise.all([...this.active.keys()].map((label) => this.revertNow(label, by)));
    return done.filter((e): e is FaultEvent => e !== undefined);
  }

  /** Cancels the faults still to come at their times (a game day's halt); what is active stays. */
  cancelPending(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** finish() waits for the actions in flight, the hand-made ones too. */
  private track<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => {},
      () => {},
    );
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
    return p;
  }

  private record(
    action: FaultEvent["action"],
    f: Fault,
    label: string,
    planned: number,
    actual: number,
    extra: Partial<FaultEvent>,
  ): FaultEvent {
    const e: FaultEvent = {
      type: "fault",
      action,
      fault: label,
      kind: f.kind,
      time: new Date(performance.timeOrigin + this.t0 + actual).toISOString(),
      planned_ms: Math.round(planned),
      actual_ms: Math.round(actual),
      lag_ms: Math.round(actual - planned),
      took_ms: Math.round(this.now() - actual),
      ...extra,
    };
    this.emit(e);
    return e;
  }

  /** who the reverts at the end are put down to (a game day's session), when they are by hand */
  revertedBy: string | undefined;

  /** Cancels what has not happened, waits for what is happening, reverts everything still active. */
  async finish(): Promise<void> {
    this.finished = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
    const end = this.now();
    for (const label of [...this.active.keys()]) await this.revert(label, end, this.revertedBy);
    await this.reconcileToxics(end);
  }

  /** After every revert no toxic may be left on the run's proxies (a call that timed out may have
   * landed after all): each one found is a failed revert, recorded, and removed. */
  private async reconcileToxics(end: number): Promise<void> {
    const proxy = this.ctx.toxiproxy;
    if (!proxy || !this.faults.some((f) => "link" in f)) return;
    let left: Array<{ proxy: string; toxic: string }>;
    try {
      left = await proxy.allToxics();
    } catch (e) {
      this.emit({
        ...this.bare(end),
        fault: "(toxiproxy)",
        error: `revert failed: could not list the toxics left: ${(e as Error).message}`,
      });
      return;
    }
    for (const t of left) {
      const removed = await proxy.removeToxic(t.proxy, t.toxic).then(
        () => "removed",
        (e: Error) => `not removed: ${e.message}`,
      );
      // Toxic names are cascade-<fault kind>-<n> (faults/toxics.ts).
      const kind = (/^cascade-([a-z_-]+)-\d+$/.exec(t.toxic)?.[1] ?? "latency") as Fault["kind"];
      this.emit({
        ...this.bare(end),
        kind,
        fault: t.toxic,
        error: `revert failed: toxic still active on proxy ${t.proxy} after the run (${removed})`,
      });
    }
  }

  private bare(at: number): Omit<FaultEvent, "fault"> {
    return {
      type: "fault",
      action: "error",
      kind: "latency",
      time: new Date(performance.timeOrigin + this.t0 + at).toISOString(),
      planned_ms: Math.round(at),
      actual_ms: Math.round(at),
      lag_ms: 0,
      took_ms: 0,
    };
  }

  /** Labels of faults applied and not yet reverted. */
  activeFaults(): string[] {
    return [...this.active.keys()];
  }
}
