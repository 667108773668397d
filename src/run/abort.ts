// The scenario's stop condition (`abort:`), like k6's abortOnFail: once users have been served
// below a share for long enough, going on only hurts the system longer and tells nothing new.
import { userSecond } from "../analyze/series.js";
import type { LoadSample } from "../load/driver.js";
import type { Scenario } from "../scenario/schema.js";

export class StopCondition {
  private below = 0;

  constructor(private readonly abort: NonNullable<Scenario["abort"]>) {}

  /** Feeds one load second; returns the reason to stop once the condition holds, else undefined. */
  see(s: LoadSample): string | undefined {
    if (s.offered === 0) return undefined; // a pause in the load says nothing about users
    // A second with load but no outcome known yet (every request still in flight) served nobody.
    const served = userSecond(s).success ?? 0;
    this.below = served < this.abort.availability ? this.below + 1 : 0;
    if (this.below * 1000 < this.abort.for) return undefined;
    return `abort: users served below ${pct(this.abort.availability)} for ${this.below} s in a row (${pct(served)} in second ${s.t}) — stopping the run, reverting its faults`;
  }
}

const pct = (x: number) => `${+(x * 100).toFixed(1)} %`;
