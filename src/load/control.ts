// Steering a load while it runs (a game day's rate box, pause and burst buttons). The driver
// attaches itself when it starts; until then, and after it ended, a replan is refused. A replan
// changes only what is still to come: every arrival due before it keeps its intended time, so the
// samples so far stay true, and the profile as applied can be read back as phases (to replay it).
import type { RatePhase } from "./schedule.js";

/** What a running load offers to its control (LoadRun implements it). */
export interface Steerable {
  /** ms since load start */
  elapsed(): number;
  /** From now on the profile is `phases`, then the load ends; cut at the horizon the load started
   * with. Returns when it took effect, ms from load start. */
  replan(phases: readonly RatePhase[]): number;
  /** The profile as applied, from load start to now (or to where the load ended). */
  applied(): RatePhase[];
  /** ms from load start at which the profile ends (the horizon, or earlier after a replan) */
  endMs(): number;
  running(): boolean;
}

export class LoadNotRunning extends Error {
  constructor() {
    super("the load is not running");
  }
}

export class LoadControl {
  private run: Steerable | undefined;

  /** Called by the driver as it starts. */
  attach(run: Steerable): void {
    this.run = run;
  }

  get running(): boolean {
    return this.run?.running() ?? false;
  }

  /** ms since load start (0 before it started). */
  elapsed(): number {
    return this.run?.elapsed() ?? 0;
  }

  /** ms from load start at which the profile ends. */
  endMs(): number {
    return this.run?.endMs() ?? 0;
  }

  replan(phases: readonly RatePhase[]): number {
    if (!this.run?.running()) throw new LoadNotRunning();
    for (const p of phases) if (!(p.duration >= 0 && p.rate >= 0 && (p.to ?? 0) >= 0)) throw new Error(`bad phase ${JSON.stringify(p)}`);
    return this.run.replan(phases);
  }

  /** A constant rate (0 = a pause) from now to the end of the horizon. */
  setRate(rate: number): number {
    return this.replan([{ duration: Math.max(0, this.endMs() - this.elapsed()), rate }]);
  }

  /** `rate` for `ms`, then `after` to the end of the horizon. */
  burst(rate: number, ms: number, after: number): number {
    const left = Math.max(0, this.endMs() - this.elapsed());
    return this.replan([
      { duration: Math.min(ms, left), rate },
      { duration: Math.max(0, left - ms), rate: after },
    ]);
  }

  /** Ends the profile now: no arrival after this; requests in flight finish (up to their deadline). */
  stop(): number {
    return this.replan([]);
  }

  applied(): RatePhase[] {
    return this.run?.applied() ?? [];
  }
}
