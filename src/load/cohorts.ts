// Outcomes by intended send second: the requests planned for second t, whenever they resolved.
// The per-second samples count outcomes when the driver saw them, which bunches a stall's answers
// into the second it ended (goodput above offered) and shows its worst second as its fastest
// (few, early completions). A cohort is final once its last request's deadline has passed, so it
// is emitted `timeout` after its second ends.
import type * as hdr from "hdr-histogram-js";
import { newHistogram } from "./seconds.js";
import type { LoadLatency } from "./types.js";

/** The requests planned for one second, by how they ended. */
export interface CohortSample extends LoadLatency {
  /** intended send second */
  t: number;
  /** handed to a connection (arrivals dropped at the connection cap are not in a cohort) */
  sent: number;
  /** 2xx/3xx within the deadline */
  ok: number;
  /** 4xx/5xx within the deadline */
  failed: number;
  /** connection errors */
  errors: number;
  /** no complete response by the deadline */
  timeouts: number;
}

class Cohort {
  sent = 0;
  ok = 0;
  failed = 0;
  errors = 0;
  timeouts = 0;
  hist: hdr.Histogram | null = null;
  max = -1;
}

export class Cohorts {
  private readonly cohorts: Cohort[];

  constructor(public n: number) {
    this.cohorts = Array.from({ length: n }, () => new Cohort());
  }

  /** The run now ends after `n` seconds (a steered load stopped early). */
  truncate(n: number): void {
    this.n = Math.min(this.n, n);
  }

  private of(intendedMs: number): Cohort {
    return this.cohorts[Math.min(this.n - 1, Math.max(0, Math.floor(intendedMs / 1000)))] as Cohort;
  }

  sent(intendedMs: number): void {
    this.of(intendedMs).sent++;
  }

  /** A response (status) or a timeout (status null) `ms` after the intended send time. */
  answered(intendedMs: number, status: number | null, ms: number): void {
    const c = this.of(intendedMs);
    if (status === null) c.timeouts++;
    else if (status < 400) c.ok++;
    else c.failed++;
    c.hist ??= newHistogram();
    c.hist.recordValue(Math.max(1, Math.round(ms * 1000)));
    if (ms > c.max) c.max = ms;
  }

  error(intendedMs: number): void {
    this.of(intendedMs).errors++;
  }

  /** Cohort t's latency histogram (null if none), as it stands. */
  histogram(t: number): hdr.Histogram | null {
    return (this.cohorts[t] as Cohort).hist;
  }

  /** Cohort t as a sample; its histogram is released. */
  sample(t: number): CohortSample {
    const c = this.cohorts[t] as Cohort;
    const h = c.hist;
    const ms = (p: number) => (h?.totalCount ? Math.round(h.getValueAtPercentile(p)) / 1000 : null);
    const s: CohortSample = {
      t,
      sent: c.sent,
      ok: c.ok,
      failed: c.failed,
      errors: c.errors,
      timeouts: c.timeouts,
      p50: ms(50),
      p95: ms(95),
      p99: ms(99),
      max: c.max >= 0 ? Math.round(c.max * 1000) / 1000 : null,
    };
    c.hist = null;
    return s;
  }
}
