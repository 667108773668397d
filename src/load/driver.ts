/**
 * Load stage: a true open-model driver. Arrivals come from the clock (schedule.ts), never from
 * responses: at its intended time each arrival takes an idle keep-alive connection, else a new
 * one while under the cap (the arrival waits for the connect), else it is DROPPED — counted in
 * its intended second and never retried later. Latency runs from the intended send time, so a
 * stall of the target shows in the percentiles, and so does any lag of this driver (timer
 * granularity ≈ 1 ms, or a blocked event loop: those arrivals go out late, not dropped).
 *
 * One timer loop wakes at the next arrival, second boundary or deadline (setTimeout, ≥ 1 ms:
 * an immediate-spinning loop would burn a core at any rate) and dispatches every arrival whose
 * time has come; a connection that frees up also dispatches at once. Past its deadline
 * (intended time + timeout) a request counts as a timeout and its socket is destroyed (HTTP/1.1
 * cannot reuse it); a response read after the deadline is a timeout too, so goodput (2xx + 3xx)
 * only holds answers within the deadline.
 *
 * Samples: offered / sent / dropped by intended second; outcomes and latency by the second the
 * driver saw them (the drain after the planned end folds into the last second). Second s is
 * emitted once the clock passed its end, after the arrivals due by then were dispatched.
 */
import { type Connection, type ConnectionSink, type Endpoint, requestBytes } from "./http1.js";
import { Deadlines } from "./deadlines.js";
import { Pool } from "./pool.js";
import { Schedule } from "./schedule.js";
import { Seconds } from "./seconds.js";
import { type CohortSample, Cohorts } from "./cohorts.js";
import { resolveTarget, validateSpec } from "./target.js";
import type { Steerable } from "./control.js";
import type { RatePhase } from "./schedule.js";
import { type LoadOptions, type LoadSample, type LoadSpec, type LoadSummary, TOTAL_KEYS, zeroTotals } from "./types.js";

export { isLoopbackUrl } from "./target.js";
export { LoadControl, LoadNotRunning } from "./control.js";
export type {
  GeneratorEvent,
  GeneratorFigure,
  LoadLatency,
  LoadOptions,
  LoadSample,
  LoadSpec,
  LoadSummary,
  LoadTotals,
  RatePhase,
} from "./types.js";

/** Idle connections older than this are closed: below common server idle timeouts (Node's 5 s). */
const IDLE_CLOSE_MS = 2000;

function summarize(
  samples: LoadSample[],
  cohorts: CohortSample[],
  latency: LoadSummary["latency"],
  connections: LoadSummary["connections"],
): LoadSummary {
  const totals = zeroTotals();
  for (const s of samples) for (const k of TOTAL_KEYS) totals[k] += s[k];
  return { samples, cohorts, totals, latency, connections };
}

/**
 * Run the rate profile against `spec.url` and count, per second of the run, what was offered,
 * sent, dropped and observed. Resolves at the planned end once the requests in flight resolved
 * (at most `timeout` later; their outcomes are folded into the last second), or soon after
 * `opts.signal` aborts, with the samples so far (the partial current second included).
 */
export async function runLoad(spec: LoadSpec, opts: LoadOptions = {}): Promise<LoadSummary> {
  validateSpec(spec);
  const empty = () => summarize([], [], { p50: null, p95: null, p99: null, max: null }, { peak: 0, opened: 0 });
  if (opts.signal?.aborted) return empty();
  const url = new URL(spec.url);
  const ep = await resolveTarget(url, spec.ownHosts);
  if (opts.signal?.aborted) return empty();
  return new LoadRun(spec, opts, ep, requestBytes(spec.method ?? "GET", url)).start();
}

class LoadRun implements ConnectionSink, Steerable {
  private readonly sched: Schedule;
  /** cum[s]: arrivals before second s (cum[n] = all) */
  private readonly cum: number[];
  /** seconds in the profile: only shrinks (a replan stays within the horizon the run started with) */
  private n: number;
  private readonly horizonMs: number;
  /** ms from load start at which the run finished */
  private endedAt: number | undefined;
  private readonly secs: Seconds;
  private readonly pool: Pool;
  private readonly deadlines = new Deadlines();
  private readonly timeout: number;
  private readonly samples: LoadSample[] = [];
  private readonly cohorts: Cohorts;
  private readonly cohortSamples: CohortSample[] = [];
  /** lags[s]: the latest an arrival of second s went out after its intended time, ms */
  private readonly lags: number[];
  /** next cohort (intended send second) to emit */
  private nextCohort = 0;
  private t0 = 0;
  private wall0 = 0;
  /** next arrival to dispatch, and the second it falls in */
  private next = 0;
  private nextSec = 0;
  private nextEmit = 0;
  private inflight = 0;
  private ending = false;
  private done = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private expiry: ReturnType<typeof setImmediate> | undefined;
  private resolve: (s: LoadSummary) => void = () => {};
  private reject: (e: Error) => void = () => {};

  constructor(
    spec: LoadSpec,
    private readonly opts: LoadOptions,
    ep: Endpoint,
    request: Buffer,
  ) {
    this.sched = new Schedule(spec.phases, spec.share);
    this.n = Math.ceil(this.sched.totalMs / 1000);
    this.lags = new Array(this.n).fill(0);
    this.horizonMs = this.sched.totalMs;
    this.cum = Array.from({ length: this.n + 1 }, (_, s) => this.sched.countBefore(Math.min(s * 1000, this.sched.totalMs)));
    this.secs = new Seconds(this.n);
    this.cohorts = new Cohorts(this.n);
    this.timeout = spec.timeout;
    this.pool = new Pool(ep, request, spec.connections, this);
  }

  start(): Promise<LoadSummary> {
    return new Promise<LoadSummary>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.opts.signal?.addEventListener("abort", this.onAbort, { once: true });
      this.t0 = performance.now();
      this.wall0 = Date.now();
      this.opts.control?.attach(this);
      this.tick();
    });
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  elapsed(): number {
    return this.endedAt ?? this.now();
  }

  running(): boolean {
    return !this.done && !this.ending;
  }

  endMs(): number {
    return this.sched.totalMs;
  }

  applied(): RatePhase[] {
    return this.sched.phasesUntil(Math.min(this.elapsed(), this.sched.totalMs));
  }

  /** Arrivals due by now go out under the old profile; from now on, `phases`, cut at the horizon. */
  replan(phases: readonly RatePhase[]): number {
    const now = this.now();
    this.dispatch(now);
    const cut: RatePhase[] = [];
    let room = this.horizonMs - now;
    for (const p of phases) {
      if (room <= 0) break;
      const duration = Math.min(p.duration, room);
      cut.push(
        duration === p.duration || p.to === undefined
          ? { ...p, duration }
          : { ...p, duration, to: p.rate + ((p.to - p.rate) * duration) / p.duration },
      );
      room -= duration;
    }
    this.sched.replan(now, cut);
    const n = Math.max(this.nextEmit + 1, Math.ceil(this.sched.totalMs / 1000));
    this.n = Math.min(this.n, n);
    this.cum.length = this.n + 1;
    for (let s = Math.floor(now / 1000) + 1; s <= this.n; s++) this.cum[s] = this.sched.countBefore(Math.min(s * 1000, this.sched.totalMs));
    this.secs.truncate(this.n);
    this.cohorts.truncate(this.n);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.tick();
    return now;
  }

  /** The second an outcome observed at `now` is counted in (never one already emitted). */
  private outcomeSecond(now: number): number {
    return Math.max(this.nextEmit, Math.min(this.n - 1, Math.floor(now / 1000)));
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.done) return;
    try {
      const now = this.now();
      this.dispatch(now);
      if (this.deadlines.next() <= now) this.expireSoon();
      this.emitDue(now);
      if (!this.ending && this.next >= this.sched.total && now >= this.sched.totalMs) this.ending = true;
      if (this.ending && (this.inflight === 0 || this.deadlines.next() === Number.POSITIVE_INFINITY)) this.finish(false);
      else this.arm(now);
    } catch (e) {
      this.fail(e);
    }
  };

  /** Sleep until the next arrival, second boundary, planned end or deadline. */
  private arm(now: number): void {
    let at = this.deadlines.next();
    if (this.next < this.sched.total) at = Math.min(at, this.sched.timeOf(this.next));
    if (this.nextEmit < this.n - 1) at = Math.min(at, (this.nextEmit + 1) * 1000);
    if (!this.ending) at = Math.min(at, this.sched.totalMs);
    this.timer = setTimeout(this.tick, Math.max(1, Math.ceil(at - now)));
  }

  /** Every arrival due by `now` goes to a connection or is dropped, in intended-time order. */
  private dispatch(now: number): void {
    const due = this.sched.countBefore(now);
    while (this.next < due) {
      const c = this.pool.acquire();
      if (c === null) {
        this.drop(due);
        return;
      }
      const k = this.next++;
      const t = this.sched.timeOf(k);
      const s = this.secondOf(k);
      this.secs.at(s).sent++;
      if (now - t > (this.lags[s] as number)) this.lags[s] = now - t;
      this.cohorts.sent(t);
      c.send(t);
      this.inflight++;
      this.deadlines.push(t + this.timeout, c);
    }
  }

  /** Arrivals [next, due) found no connection: count them in their intended seconds. */
  private drop(due: number): void {
    while (this.next < due) {
      const s = this.secondOf(this.next);
      const end = Math.min(due, this.cum[s + 1] as number);
      this.secs.at(s).dropped += end - this.next;
      this.next = end;
    }
  }

  /** Second of arrival k; k only grows, so a cursor suffices. */
  private secondOf(k: number): number {
    while ((this.cum[this.nextSec + 1] as number) <= k) this.nextSec++;
    return this.nextSec;
  }

  onResponse(c: Connection, status: number): void {
    if (this.done) return;
    const now = this.now();
    this.inflight--;
    const ms = now - c.intended;
    const t = this.outcomeSecond(now);
    const b = this.secs.at(t);
    if (ms > this.timeout) b.timeouts++;
    else {
      b.completed++;
      if (status < 300) b.s2xx++;
      else if (status < 400) b.s3xx++;
      else if (status < 500) b.s4xx++;
      else {
        b.s5xx++;
        if (status === 503) b.s503++;
      }
    }
    this.secs.latency(t, ms);
    this.cohorts.answered(c.intended, ms > this.timeout ? null : status, ms);
    if (!c.dead) {
      this.pool.release(c, now);
      if (this.next < this.sched.total) this.dispatch(now);
    }
    this.settle();
  }

  onFailure(c: Connection): void {
    if (this.done) return;
    this.inflight--;
    this.cohorts.error(c.intended);
    this.secs.at(this.outcomeSecond(this.now())).errors++;
    this.settle();
  }

  onClosed(c: Connection): void {
    this.pool.remove(c);
  }

  /** Deadline expiry waits for the poll phase: a response already in the socket wins. */
  private expireSoon(): void {
    this.expiry ??= setImmediate(this.expire);
  }

  private readonly expire = (): void => {
    this.expiry = undefined;
    if (this.done) return;
    const now = this.now();
    this.deadlines.expire(now, (c) => {
      this.inflight--;
      const t = this.outcomeSecond(now);
      this.secs.at(t).timeouts++;
      this.secs.latency(t, now - c.intended);
      this.cohorts.answered(c.intended, null, now - c.intended);
      c.destroy();
      this.pool.remove(c);
    });
    this.settle();
  };

  /** After the planned end, the run is over once nothing is in flight. */
  private settle(): void {
    if (this.ending && this.inflight === 0 && !this.done) this.finish(false);
  }

  private emitDue(now: number): void {
    let emitted = false;
    while (this.nextEmit < this.n - 1 && now >= (this.nextEmit + 1) * 1000) {
      this.emit(this.nextEmit, this.next);
      emitted = true;
    }
    if (emitted) this.pool.sweep(now - IDLE_CLOSE_MS);
    // A cohort is final once the deadline of its last request has passed.
    while (this.nextCohort < this.nextEmit && now >= (this.nextCohort + 1) * 1000 + this.timeout) this.emitCohort();
  }

  private emitCohort(): void {
    const hist = this.cohorts.histogram(this.nextCohort);
    const c = this.cohorts.sample(this.nextCohort++);
    this.cohortSamples.push(c);
    this.opts.onCohort?.(c, hist);
  }

  /** Emit second t; `processed` arrivals were dispatched or dropped (less than planned on abort). */
  private emit(t: number, processed: number): void {
    const from = this.cum[t] as number;
    this.secs.at(t).offered = Math.min(Math.max(processed, from), this.cum[t + 1] as number) - from;
    const hist = this.secs.histogram(t);
    const s = this.secs.sample(t, this.wall0);
    this.nextEmit = t + 1;
    this.samples.push(s);
    this.opts.onSample?.(s, hist, Math.round(this.lags[t] ?? 0));
  }

  private readonly onAbort = (): void => {
    try {
      this.finish(true);
    } catch (e) {
      this.fail(e);
    }
  };

  private stop(): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.expiry !== undefined) clearImmediate(this.expiry);
    this.opts.signal?.removeEventListener("abort", this.onAbort);
    // Requests still in flight (only on abort or failure) are abandoned, not counted.
    this.pool.closeAll();
    this.deadlines.clear();
  }

  private finish(aborted: boolean): void {
    if (this.done) return;
    this.endedAt = Math.min(this.now(), this.sched.totalMs);
    const last = aborted ? Math.min(this.n - 1, Math.floor(this.now() / 1000)) : this.n - 1;
    this.stop();
    try {
      while (this.nextEmit <= last) this.emit(this.nextEmit, this.next);
      // Every request has resolved (or, on abort, was abandoned): the remaining cohorts are final.
      while (this.nextCohort <= last) this.emitCohort();
    } catch (e) {
      this.reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.resolve(summarize(this.samples, this.cohortSamples, this.secs.runLatency(), { peak: this.pool.peak, opened: this.pool.opened }));
  }

  private fail(e: unknown): void {
    if (!this.done) this.stop();
    this.reject(e instanceof Error ? e : new Error(String(e)));
  }
}
