// Several generators' seconds made into one stream: counts are summed and latency histograms
// added bucket by bucket (HDR histograms merge exactly), so a merged percentile is the one a
// single histogram fed every value would give — never an average of percentiles. A second (or a
// cohort) is emitted, in order, once every generator still counted has reported it; what a lost
// generator never reported is simply not there (the run says it lost it).
import * as hdr from "hdr-histogram-js";
import { latencyOf, newHistogram } from "./seconds.js";
import type { LoadLatency } from "./types.js";

/** A histogram as it crosses a process boundary (base64 of the compressed V2 encoding), or null. */
export const encodeHistogram = (h: hdr.Histogram | null): string | null =>
  h && h.totalCount > 0 ? hdr.encodeIntoCompressedBase64(h) : null;

export const decodeHistogram = (s: string): hdr.Histogram => hdr.decodeFromCompressedBase64(s, 32, false);

interface Part {
  counts: Record<string, number>;
  hist: hdr.Histogram | null;
  /** exact max ms, -1 if none */
  max: number;
  from: Set<number>;
}

/** Sums of `keys` and merged latency, by index t, from `sources` reporters. */
export class Merger<K extends string, S extends { t: number } & Record<K, number> & LoadLatency> {
  private readonly parts = new Map<number, Part>();
  /** next index to emit */
  next = 0;
  private readonly run = newHistogram();
  private runMax = -1;
  /** highest index any source reported */
  private top = -1;

  constructor(
    private readonly keys: readonly K[],
    private readonly emit: (t: number, counts: Record<K, number>, latency: LoadLatency, hist: hdr.Histogram | null) => void,
  ) {}

  /** Source `g`'s figures for index t (each source reports each t at most once). */
  add(g: number, s: S, hist: hdr.Histogram | string | null): void {
    if (s.t < this.next) return; // already emitted without it (it was given up on)
    let p = this.parts.get(s.t);
    if (!p) {
      p = { counts: Object.fromEntries(this.keys.map((k) => [k, 0])), hist: null, max: -1, from: new Set() };
      this.parts.set(s.t, p);
    }
    if (p.from.has(g)) return;
    p.from.add(g);
    for (const k of this.keys) (p.counts[k] as number) += s[k];
    const h = typeof hist === "string" ? decodeHistogram(hist) : hist;
    if (h && h.totalCount > 0) {
      p.hist ??= newHistogram();
      p.hist.add(h);
    }
    if (s.max !== null && s.max > p.max) p.max = s.max;
    if (s.t > this.top) this.top = s.t;
  }

  /** Emits, in order, every index that each of `live` has reported. */
  drain(live: ReadonlySet<number>): void {
    for (;;) {
      const p = this.parts.get(this.next);
      if (!p || [...live].some((g) => !p.from.has(g))) return;
      this.out(p);
    }
  }

  /** Emits everything left, up to the highest index reported (what some source never sent is missing). */
  flush(): void {
    while (this.next <= this.top) this.out(this.parts.get(this.next));
  }

  private out(p: Part | undefined): void {
    const t = this.next++;
    this.parts.delete(t);
    const counts = (p?.counts ?? Object.fromEntries(this.keys.map((k) => [k, 0]))) as Record<K, number>;
    const hist = p?.hist ?? null;
    const max = p?.max ?? -1;
    if (hist) this.run.add(hist);
    if (max > this.runMax) this.runMax = max;
    this.emit(t, counts, latencyOf(hist, max), hist);
  }

  /** Latency over every index emitted. */
  latency(): LoadLatency {
    return latencyOf(this.run, this.runMax);
  }
}
