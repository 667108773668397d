// Per-second counters and latency histograms (hdr-histogram-js, µs, 3 significant digits).
// A second's histogram lives until its sample is emitted, then is merged into the run's.
import * as hdr from "hdr-histogram-js";
import { type LoadLatency, type LoadSample, type LoadTotals, zeroTotals } from "./types.js";

/** µs, 3 significant digits: the driver's per-second and per-cohort histograms alike. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({ numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

class Bucket {
  readonly c: LoadTotals = zeroTotals();
  hist: hdr.Histogram | null = null;
  /** exact max ms (the histogram's is rounded to its bucket) */
  max = -1;
}

export function latencyOf(h: hdr.Histogram | null, max: number): LoadLatency {
  if (h === null || h.totalCount === 0) return { p50: null, p95: null, p99: null, max: null };
  const ms = (p: number) => Math.round(h.getValueAtPercentile(p)) / 1000;
  return { p50: ms(50), p95: ms(95), p99: ms(99), max: Math.round(max * 1000) / 1000 };
}

export class Seconds {
  private readonly buckets: Bucket[];
  private readonly run = newHistogram();
  private runMax = -1;

  constructor(public n: number) {
    this.buckets = Array.from({ length: n }, () => new Bucket());
  }

  /** The run now ends after `n` seconds (a steered load stopped early); later counts fold into the last. */
  truncate(n: number): void {
    this.n = Math.min(this.n, n);
  }

  /** Counters of second `t` (clamped to the run). */
  at(t: number): LoadTotals {
    return (this.buckets[Math.min(this.n - 1, Math.max(0, t))] as Bucket).c;
  }

  latency(t: number, ms: number): void {
    const b = this.buckets[Math.min(this.n - 1, Math.max(0, t))] as Bucket;
    b.hist ??= newHistogram();
    b.hist.recordValue(Math.max(1, Math.round(ms * 1000)));
    if (ms > b.max) b.max = ms;
  }

  /** Second `t`'s latency histogram (null if none), as it stands. */
  histogram(t: number): hdr.Histogram | null {
    return (this.buckets[t] as Bucket).hist;
  }

  /** The sample of second `t`; its histogram is merged into the run's and released. */
  sample(t: number, wall0: number): LoadSample {
    const b = this.buckets[t] as Bucket;
    const s: LoadSample = { t, ts: new Date(wall0 + t * 1000).toISOString(), ...b.c, ...latencyOf(b.hist, b.max) };
    if (b.hist) {
      this.run.add(b.hist);
      b.hist = null;
    }
    if (b.max > this.runMax) this.runMax = b.max;
    return s;
  }

  /** Latency over every emitted second. */
  runLatency(): LoadLatency {
    return latencyOf(this.run, this.runMax);
  }
}
