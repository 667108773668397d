// Arrival times from a rate profile, computed from the clock alone (never from responses).
//
// N(t) = ∫₀ᵗ rate is the expected number of arrivals by t. Arrival k (0-based) is due when N
// reaches k + ½, so arrivals sit in the middle of their 1/rate slot: 100 req/s gives 5, 15, …,
// 995 ms, exactly 100 per second, and a second boundary never falls on an arrival through
// float rounding. A pause (rate 0) has none; the first arrival after it comes half a slot in.
//
// A share (several generators): generator i of N takes the declared arrivals i, i + N, i + 2N, …
// and counts only those, so the N shares are disjoint and their union is the declared stream,
// arrival for arrival, whatever the profile (a ramp or a pause too) and after a replan.

export interface RatePhase {
  /** ms */
  duration: number;
  /** req/s at the phase start (non-negative; 0 = pause) */
  rate: number;
  /** req/s at the phase end: a linear ramp from `rate`; absent = constant `rate` */
  to?: number;
}

interface Segment {
  /** ms from the run start */
  start: number;
  duration: number;
  /** req/ms at the start and its slope (req/ms²) */
  r0: number;
  slope: number;
  /** N at the segment start */
  before: number;
  /** N at the segment end */
  after: number;
  /** the phase it came from, req/s at its start and end */
  rate: number;
  to: number;
}

/** Generator `index` (0-based) of `of` takes the declared arrivals k with k mod `of` = `index`. */
export interface Share {
  index: number;
  of: number;
}

export class Schedule {
  totalMs: number;
  /** arrivals in the whole profile (of this share) */
  total: number;
  private segs: Segment[] = [];
  /** segment cursor for timeOf(), which is called with increasing k */
  private cur = 0;
  private readonly index: number;
  private readonly of: number;

  constructor(phases: readonly RatePhase[], share?: Share) {
    this.index = share?.index ?? 0;
    this.of = share?.of ?? 1;
    if (!(Number.isInteger(this.of) && this.of >= 1 && Number.isInteger(this.index) && this.index >= 0 && this.index < this.of))
      throw new Error(`bad share ${JSON.stringify(share)}: index 0 ≤ i < of`);
    this.totalMs = this.append(phases, 0, 0);
    this.total = this.countBefore(this.totalMs);
  }

  private append(phases: readonly RatePhase[], start: number, n: number): number {
    for (const p of phases) {
      const r0 = p.rate / 1000;
      const r1 = (p.to ?? p.rate) / 1000;
      const slope = (r1 - r0) / p.duration;
      const after = n + r0 * p.duration + (slope * p.duration * p.duration) / 2;
      this.segs.push({ start, duration: p.duration, r0, slope, before: n, after, rate: p.rate, to: p.to ?? p.rate });
      start += p.duration;
      n = after;
    }
    return start;
  }

  /**
   * From `at` ms on, the profile is `phases` (then it ends): what was due before `at` stays as it
   * was, so N(t) and every arrival time before `at` are unchanged. A phase cut at `at` keeps its
   * part before it (a ramp ends at the rate it had reached).
   */
  replan(at: number, phases: readonly RatePhase[]): void {
    const kept = this.phasesUntil(at);
    this.segs = [];
    const start = this.append(kept, 0, 0);
    this.totalMs = this.append(
      phases.filter((p) => p.duration > 0),
      start,
      this.integral(start),
    );
    this.total = this.countBefore(this.totalMs);
    this.cur = 0;
  }

  /** The profile up to `until` ms as phases (a phase cut there shortened, a ramp ending where it got). */
  phasesUntil(until: number): RatePhase[] {
    const out: RatePhase[] = [];
    for (const s of this.segs) {
      if (s.start >= until) break;
      const duration = Math.min(s.duration, until - s.start);
      if (s.rate === s.to) out.push({ duration, rate: s.rate });
      else if (duration === s.duration) out.push({ duration, rate: s.rate, to: s.to });
      else out.push({ duration, rate: s.rate, to: s.rate + ((s.to - s.rate) * duration) / s.duration });
    }
    return out;
  }

  /** Expected arrivals N(t) by `t` ms. */
  integral(t: number): number {
    for (const s of this.segs) {
      if (t < s.start + s.duration) {
        const x = Math.max(0, t - s.start);
        return s.before + s.r0 * x + (s.slope * x * x) / 2;
      }
    }
    return this.segs.length ? (this.segs[this.segs.length - 1] as Segment).after : 0;
  }

  /** Arrivals of this share due strictly before `t` ms: #{k ≥ 0 : k + ½ < N(t), k mod of = index}. */
  countBefore(t: number): number {
    const all = Math.max(0, Math.ceil(this.integral(t) - 0.5 - 1e-9));
    return this.of === 1 ? all : Math.max(0, Math.ceil((all - this.index) / this.of));
  }

  /** Intended time (ms from the run start) of this share's arrival j, 0 ≤ j < total: the declared
   * arrival index + j·of. */
  timeOf(j: number): number {
    const target = this.index + j * this.of + 0.5;
    let i = this.cur;
    if (i >= this.segs.length || (this.segs[i] as Segment).before >= target) i = 0;
    while (i < this.segs.length - 1 && (this.segs[i] as Segment).after < target) i++;
    this.cur = i;
    const s = this.segs[i] as Segment;
    const m = target - s.before;
    if (m <= 0) return s.start;
    // Root of r0·x + slope·x²/2 = m in the form that stays exact for slope → 0 and r0 = 0.
    const x = (2 * m) / (s.r0 + Math.sqrt(Math.max(0, s.r0 * s.r0 + 2 * s.slope * m)));
    return s.start + Math.min(x, s.duration);
  }
}
