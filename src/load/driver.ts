/**
 * Load stage, first version: "open model as far as autocannon allows".
 *
 * Each rate phase runs as its own autocannon instance, started at the phase's
 * planned offset from the run start (phases are sequential in the plan; the
 * in-flight requests of a finished phase drain while the next one starts).
 * autocannon's aggregates are not used at all: everything is counted here,
 * per wall-clock second of the run, from the events of each autocannon client
 * (hooked through the `setupClient` option).
 *
 * autocannon 9 behaviours this file works around (see
 * node_modules/autocannon/lib/run.js and httpClient.js):
 *
 *  - It is closed-loop: a connection writes its next request only after the
 *    previous one got a response (or was abandoned on timeout / error).
 *  - `overallRate` becomes an integer per-connection budget, reset by a
 *    per-client 1 s interval and spent back-to-back at the start of the
 *    window. All clients are created in the same tick, so every second would
 *    begin with a burst of `rate` requests. We replace each client's budget
 *    interval by windows anchored on the planned phase start and staggered by
 *    i/connections of a second, so arrivals are spread over the second and
 *    do not drift.
 *  - It silently lowers `connections` to `overallRate` (see the rule below).
 *  - Its `timeout` option is whole seconds (validated >= 1) and its deadline
 *    timer runs from the *last write*, so an idle, rate-paused connection
 *    "times out", gets torn down, reconnects and emits 'timeout' although no
 *    request was outstanding. We replace the client's deadline timer by a
 *    per-request deadline of `spec.timeout` ms (armed on write, cleared on
 *    response) that only tears down a connection with a request outstanding.
 *  - It reconnects at once after an error, in a tight loop while the target
 *    refuses connections and the client has no budget left. Reconnects (and
 *    the very first connect) are made lazily, right before the next send.
 *  - Building a client costs ~0.5–1 ms; all phase instances are built before
 *    the run clock starts so that no phase start stalls the event loop.
 *  - Its own duration stop only happens at the next 1 s sample tick; we close
 *    the sending gate ourselves at the planned phase end and destroy the
 *    clients once the in-flight requests resolved (or hit the deadline).
 *  - `requests.sent` over-counts and its coordinated-omission correction is
 *    wrong: we count writes ourselves and pass `ignoreCoordinatedOmission`.
 *
 * CONNECTION RULE: connections = min(cap, rate).
 *   The brief's candidate min(cap, max(rate * timeout / 1000, rate)) cannot
 *   be honoured above `rate`: autocannon clamps connections to overallRate,
 *   and the per-connection budget is an integer >= 1 per second (0 means
 *   "unlimited"). So one request per connection per second (C = rate) is the
 *   widest spread, most stall-tolerant set-up autocannon permits. During a
 *   full stall each connection is blocked until its request's deadline, so
 *   the sending rate holds at `rate` only while timeout <= 1000 ms (the
 *   connection is free again by its next 1 s window); with a longer timeout
 *   it falls to about C * 1000 / timeout req/s. When cap < rate, each
 *   connection sends rate/cap requests back-to-back per window and a stall
 *   lets about cap * 1000 / max(timeout, 1000) requests through per second.
 *   Arrivals a blocked connection missed are not dropped but sent late (at
 *   most one window's worth) as soon as it is free: a burst after the stall.
 *   Measured (200 req/s, target holding every response for 2 s, 127.0.0.1):
 *   timeout 300 ms → 400/400 planned requests reached the server during the
 *   stall; 1000 ms → 399/400; 2000 ms → 200/400, then 395 in the second after.
 *   A later issue replaces this driver with a true open-model one.
 */
import autocannon from "autocannon";
import * as hdr from "hdr-histogram-js";

export interface RatePhase {
  /** ms */
  duration: number;
  /** req/s (non-negative integer; 0 = pause) */
  rate: number;
}

export interface LoadSpec {
  /** http://127.0.0.1:PORT/path — any host other than 127.0.0.1 / localhost / ::1 is refused. */
  url: string;
  method?: "GET" | "POST" | "PUT" | "DELETE";
  phases: RatePhase[];
  /** ms, client deadline per request */
  timeout: number;
  /** cap on connections per phase instance */
  connections: number;
}

/** One per second of load, second index t = 0,1,2… from the run start. */
export interface LoadSample extends LoadTotals, LoadLatency {
  t: number;
  /** ISO time of the second's start */
  ts: string;
}

export interface LoadTotals {
  /** arrivals planned by the rate profile (prorated to the abort instant for an aborted run's last second) */
  offered: number;
  /** requests actually written */
  sent: number;
  /** responses received (any status) */
  completed: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  /** requests lost to connection errors (refused, reset, closed by the peer) */
  errors: number;
  /** requests that hit the client deadline */
  timeouts: number;
}

/** Latency ms of responses completed in the window, null if none. */
export interface LoadLatency {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface LoadSummary {
  samples: LoadSample[];
  totals: LoadTotals;
  latency: LoadLatency;
}

export interface LoadOptions {
  /** Called once per second, in order, while the run goes (the last second after the drain). */
  onSample?: (s: LoadSample) => void;
  signal?: AbortSignal;
}

const LOOPBACK_HOSTNAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);
const METHODS = new Set(["GET", "POST", "PUT", "DELETE"]);
/** Extra wait past the deadline of the last request before clients are destroyed. */
const DRAIN_GRACE_MS = 50;

/** True when `url` is an http(s) URL whose host is 127.0.0.1, localhost or ::1. */
export function isLoopbackUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return false;
  return LOOPBACK_HOSTNAMES.has(parsed.hostname);
}

/** The connection rule (see the file comment): min(cap, rate). */
export function connectionsFor(rate: number, cap: number): number {
  return Math.max(1, Math.min(cap, rate));
}

function validateSpec(spec: LoadSpec): void {
  if (typeof spec.url !== "string" || !isLoopbackUrl(spec.url)) {
    throw new Error(
      `load: refusing url ${JSON.stringify(spec.url)}: only http://127.0.0.1, http://localhost or http://[::1] targets are allowed`,
    );
  }
  if (new URL(spec.url).protocol !== "http:") {
    throw new Error(`load: refusing url ${JSON.stringify(spec.url)}: only http:// is supported`);
  }
  if (spec.method !== undefined && !METHODS.has(spec.method)) {
    throw new Error(`load: unsupported method ${JSON.stringify(spec.method)}`);
  }
  if (!Array.isArray(spec.phases) || spec.phases.length === 0) {
    throw new Error("load: at least one phase is required");
  }
  spec.phases.forEach((p, i) => {
    if (!Number.isFinite(p.duration) || p.duration <= 0) {
      throw new Error(`load: phase ${i}: duration must be a positive number of ms`);
    }
    if (!Number.isInteger(p.rate) || p.rate < 0) {
      throw new Error(`load: phase ${i}: rate must be a non-negative integer (req/s)`);
    }
  });
  if (!Number.isFinite(spec.timeout) || spec.timeout <= 0) {
    throw new Error("load: timeout must be a positive number of ms");
  }
  if (!Number.isInteger(spec.connections) || spec.connections < 1) {
    throw new Error("load: connections must be an integer >= 1");
  }
}

/** Planned arrivals in [0, atMs) of the run, as a real number. */
function plannedArrivals(phases: readonly RatePhase[], atMs: number): number {
  let start = 0;
  let sum = 0;
  for (const p of phases) {
    const overlap = Math.min(Math.max(atMs - start, 0), p.duration);
    sum += (p.rate * overlap) / 1000;
    start += p.duration;
  }
  return sum;
}

/** Integer arrivals planned in [fromMs, toMs), such that consecutive seconds add up exactly. */
function offeredBetween(phases: readonly RatePhase[], fromMs: number, toMs: number): number {
  const eps = 1e-9;
  return Math.floor(plannedArrivals(phases, toMs) + eps) - Math.floor(plannedArrivals(phases, fromMs) + eps);
}

interface Bucket extends Omit<LoadTotals, "offered"> {
  maxMs: number | null;
  /** Latency in µs of responses completed in this second, created lazily. */
  hist: hdr.Histogram | null;
}

function zeroTotals(): LoadTotals {
  return { offered: 0, sent: 0, completed: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0, errors: 0, timeouts: 0 };
}

function newBucket(): Bucket {
  const { offered: _, ...counts } = zeroTotals();
  return { ...counts, maxMs: null, hist: null };
}

function newHistogram(): hdr.Histogram {
  return hdr.build({ numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

function pct(h: hdr.Histogram | null, p: number): number | null {
  if (h === null || h.totalCount === 0) return null;
  return Math.round(h.getValueAtPercentile(p)) / 1000;
}

/** Deadline timer object autocannon's client calls: reschedule() after each write, clear() on destroy. */
interface AcTicker {
  reschedule(ms?: number): void;
  clear(): void;
}

/**
 * The internals of an autocannon 9 httpClient that this driver relies on.
 * Checked at runtime in `attachClient` / `prepare` so that an autocannon
 * upgrade fails loudly instead of measuring nonsense.
 */
interface AcClient {
  paused: boolean;
  reqsMadeThisSecond: number;
  rate?: number;
  rateInterval?: ReturnType<typeof setInterval> | ReturnType<typeof setTimeout>;
  timeoutTicker: AcTicker;
  destroyed: boolean;
  conn?: unknown;
  parser?: { type?: unknown; initialize?: (type: unknown) => void };
  pipelinedRequests?: { clear(): void };
  _doRequest(...args: unknown[]): void;
  _connect(): void;
  _destroyConnection(): void;
  destroy(): void;
  emit(event: "timeout"): boolean;
  on(event: "request", listener: () => void): unknown;
  on(event: "response", listener: (statusCode: number, resBytes: number, responseTime: number) => void): unknown;
  on(event: "timeout", listener: () => void): unknown;
  on(event: "connError", listener: (err: unknown) => void): unknown;
}

interface ClientState {
  client: AcClient;
  /** first budget window reached: the client may send */
  open: boolean;
  /** requests written and not yet resolved (0 or 1: pipelining is 1) */
  inflight: number;
  /** outstanding requests dropped by the last deadline tear-down, counted on the 'timeout' event */
  lostToDeadline: number;
  /** no usable connection: (re)connect lazily, right before the next send */
  needsConnect: boolean;
  /** timer of the next budget window */
  window?: ReturnType<typeof setTimeout>;
  /** per-request deadline timer */
  deadline?: ReturnType<typeof setTimeout>;
  /** deadline reached, expiry check queued after the poll phase */
  expiry?: ReturnType<typeof setImmediate>;
}

function clearDeadline(st: ClientState): void {
  if (st.deadline !== undefined) clearTimeout(st.deadline);
  if (st.expiry !== undefined) clearImmediate(st.expiry);
  st.deadline = undefined;
  st.expiry = undefined;
}

interface Recorder {
  bucket(): Bucket | null;
  recordLatency(b: Bucket, ms: number): void;
  onDrainProgress(): void;
  fail(err: unknown): void;
}

/**
 * One phase = one autocannon instance. Built (prepare) before the run
 * starts, because constructing autocannon clients costs ~0.5–1 ms each and
 * would otherwise stall the event loop at the phase start; clients connect
 * lazily, so a built but not yet started phase holds no sockets.
 */
class PhaseRunner {
  readonly clients: ClientState[] = [];
  inflight = 0;
  closed = false;
  finished = false;
  private instance: autocannon.Instance | null = null;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private onFinished: (() => void) | null = null;
  private plannedEnd = Number.POSITIVE_INFINITY;

  constructor(
    private readonly spec: LoadSpec,
    private readonly rate: number,
    private readonly startMs: number,
    private readonly durationMs: number,
    private readonly rec: Recorder,
  ) {}

  prepare(): void {
    const connections = connectionsFor(this.rate, this.spec.connections);
    this.instance = autocannon(
      {
        url: this.spec.url,
        method: this.spec.method ?? "GET",
        connections,
        pipelining: 1,
        overallRate: this.rate,
        ignoreCoordinatedOmission: true,
        // Backstop only (counted from now, i.e. before the run start): we
        // close the gate and destroy the clients ourselves.
        duration: Math.ceil((this.startMs + this.durationMs + this.spec.timeout) / 1000) + 5,
        // autocannon only takes whole seconds >= 1; the real deadline (ms) is ours, see below.
        timeout: Math.max(1, Math.ceil(this.spec.timeout / 1000)),
        setupClient: (c) => this.attachClient(c as unknown as AcClient),
      },
      (err: unknown) => {
        if (err) this.rec.fail(err);
      },
    );
    // autocannon creates every client synchronously inside the call above.
    for (const st of this.clients) {
      const c = st.client;
      // Its budget interval: all clients aligned on one instant, drifting.
      // Replaced by staggered windows in start().
      if (c.rateInterval !== undefined) clearInterval(c.rateInterval);
      c.rateInterval = undefined;
      // Its deadline timer runs from the *last write*, so it also fires on
      // idle, rate-paused connections (tear-down, reconnect and a spurious
      // 'timeout'). Replace it by a per-request deadline of spec.timeout ms,
      // armed on each write (autocannon calls reschedule() after write) and
      // cleared on the response.
      if (typeof c.timeoutTicker?.clear !== "function") throw new Error("load: unsupported autocannon client (no timeoutTicker)");
      c.timeoutTicker.clear();
      c.timeoutTicker = {
        reschedule: () => {
          clearDeadline(st);
          st.deadline = setTimeout(() => this.onDeadline(st), this.spec.timeout);
        },
        clear: () => clearDeadline(st),
      };
    }
  }

  /**
   * Same steps as autocannon's own handleTimeout, for an outstanding request
   * only. Deferred with setImmediate: timers run before the poll phase, so
   * after an event-loop stall a response already sitting in the socket would
   * otherwise be counted as a timeout.
   */
  private onDeadline(st: ClientState): void {
    st.deadline = undefined;
    st.expiry = setImmediate(() => this.expire(st));
  }

  private expire(st: ClientState): void {
    st.expiry = undefined;
    const c = st.client;
    if (c.destroyed || st.inflight === 0) return;
    c._destroyConnection(); // moves the outstanding request to lostToDeadline
    c._connect(); // lazy: connects now only if the client may send now
    c.emit("timeout");
  }

  /**
   * `plannedStart`: performance.now() time the phase was planned to start at.
   * Client i of n gets a fresh budget at plannedStart + i*1000/n + k*1000
   * (windows whose time already passed open at once).
   */
  start(plannedStart: number, onFinished: () => void): void {
    this.onFinished = onFinished;
    this.plannedEnd = plannedStart + this.durationMs;
    const n = Math.max(1, this.clients.length);
    this.clients.forEach((st, i) => {
      this.scheduleWindow(st, plannedStart + (i * 1000) / n);
    });
  }

  private scheduleWindow(st: ClientState, at: number): void {
    const c = st.client;
    // A window at or after the planned end would race with close(): never open it.
    if (at >= this.plannedEnd) return;
    st.window = setTimeout(
      () => {
        if (this.closed || c.destroyed) return;
        st.open = true;
        c.reqsMadeThisSecond = 0;
        if (c.paused) {
          c.paused = false;
          c._doRequest();
        }
        this.scheduleWindow(st, at + 1000);
      },
      Math.max(0, at - performance.now()),
    );
    // destroy() clears `rateInterval`: make it ours.
    c.rateInterval = st.window;
  }

  private canSend(st: ClientState): boolean {
    const c = st.client;
    return st.open && !this.closed && !c.destroyed && c.reqsMadeThisSecond < (c.rate ?? Number.POSITIVE_INFINITY);
  }

  private attachClient(c: AcClient): void {
    for (const m of ["_doRequest", "_connect", "_destroyConnection", "destroy", "emit"] as const) {
      if (typeof c[m] !== "function") throw new Error(`load: unsupported autocannon client (no ${m})`);
    }
    const st: ClientState = { client: c, open: false, inflight: 0, lostToDeadline: 0, needsConnect: true };
    this.clients.push(st);
    const rec = this.rec;

    const origDoRequest = c._doRequest;
    const origConnect = c._connect;
    const origDestroyConnection = c._destroyConnection;

    const connectNow = (): void => {
      st.needsConnect = false;
      // A connection cut mid-response would leave the shared parser mid-message.
      if (typeof c.parser?.initialize === "function") c.parser.initialize(c.parser.type);
      origConnect.call(c); // writes the next request if the budget allows
    };

    c._doRequest = (...args: unknown[]): void => {
      // Sending gate: closed before the client's first window and after the phase end.
      if (!st.open || this.closed) {
        c.paused = true;
        return;
      }
      if (st.needsConnect) {
        connectNow();
        return;
      }
      origDoRequest.apply(c, args);
    };

    c._connect = (): void => {
      if (st.inflight > 0) {
        // Reconnect with a request outstanding and no error/deadline before
        // it: the peer closed the connection ('end') without answering.
        const b = rec.bucket();
        if (b) b.errors += st.inflight;
        this.inflight -= st.inflight;
        st.inflight = 0;
        c.pipelinedRequests?.clear();
      }
      if (c.destroyed) return;
      if (this.canSend(st)) {
        connectNow();
      } else {
        // autocannon reconnects at once (and in a tight loop while the target
        // refuses connections and the client has no budget left): defer the
        // reconnect to the next send instead. Also makes the constructor's
        // initial connect lazy.
        st.needsConnect = true;
        c.paused = true;
      }
    };

    c._destroyConnection = (): void => {
      // Callers: our deadline (client alive) and destroy() (phase end / abort).
      if (!c.destroyed) st.lostToDeadline += st.inflight; // a 'timeout' event follows
      // else: in-flight requests are abandoned at teardown (not counted)
      this.inflight -= st.inflight;
      st.inflight = 0;
      st.needsConnect = true;
      if (c.conn !== undefined) origDestroyConnection.call(c);
    };

    c.on("request", () => {
      st.inflight++;
      this.inflight++;
      const b = rec.bucket();
      if (b) b.sent++;
    });

    c.on("response", (statusCode, _resBytes, responseTime) => {
      if (st.inflight > 0) {
        st.inflight--;
        this.inflight--;
      }
      if (st.inflight === 0) c.timeoutTicker.clear();
      const b = rec.bucket();
      if (b) {
        b.completed++;
        const cls = Math.floor(Number(statusCode) / 100);
        if (cls === 2) b.s2xx++;
        else if (cls === 3) b.s3xx++;
        else if (cls === 4) b.s4xx++;
        else if (cls === 5) b.s5xx++;
        rec.recordLatency(b, responseTime);
      }
      this.drainProgress();
    });

    c.on("timeout", () => {
      const lost = st.lostToDeadline;
      st.lostToDeadline = 0;
      const b = rec.bucket();
      if (b) b.timeouts += lost;
      this.drainProgress();
    });

    c.on("connError", () => {
      // The connection is gone (refused / reset): its outstanding request is lost.
      const b = rec.bucket();
      if (b) b.errors += st.inflight;
      this.inflight -= st.inflight;
      st.inflight = 0;
      st.needsConnect = true;
      c.timeoutTicker.clear();
      // autocannon keeps the dead connection's entries in its queue, which
      // would skew later responseTime values; drop them.
      c.pipelinedRequests?.clear();
      this.drainProgress();
    });
  }

  /** Planned end of the phase: stop sending, let in-flight requests resolve, then tear down. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const st of this.clients) {
      if (st.window !== undefined) clearTimeout(st.window);
    }
    if (this.inflight <= 0) {
      this.finish();
      return;
    }
    // Every outstanding request was written before now, so its deadline is at
    // most `timeout` away.
    this.drainTimer = setTimeout(() => this.finish(), this.spec.timeout + DRAIN_GRACE_MS);
  }

  drainProgress(): void {
    if (this.closed && !this.finished && this.inflight <= 0) this.finish();
    this.rec.onDrainProgress();
  }

  /** Destroy every client now (also used on abort, and for phases that never started). */
  finish(): void {
    if (this.finished) return;
    this.closed = true;
    this.finished = true;
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    for (const st of this.clients) {
      if (st.window !== undefined) clearTimeout(st.window);
      try {
        st.client.destroy();
      } catch {
        // ignore: tearing down
      }
      clearDeadline(st);
    }
    try {
      this.instance?.stop();
    } catch {
      // ignore: tearing down
    }
    const cb = this.onFinished;
    this.onFinished = null;
    cb?.();
  }
}

function emptySummary(): LoadSummary {
  return {
    samples: [],
    totals: { offered: 0, sent: 0, completed: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0, errors: 0, timeouts: 0 },
    latency: { p50: null, p95: null, p99: null, max: null },
  };
}

/**
 * Run the rate profile against `spec.url` and count, per second of the run,
 * what was offered, sent and observed. Resolves at the planned end plus at
 * most `timeout` (+50 ms) for in-flight requests — whose outcomes are folded
 * into the last second's sample — or soon after `opts.signal` aborts, with the
 * samples so far (the partial current second included).
 */
export async function runLoad(spec: LoadSpec, opts: LoadOptions = {}): Promise<LoadSummary> {
  validateSpec(spec);
  const { onSample, signal } = opts;
  if (signal?.aborted) return emptySummary();

  const phases = spec.phases.map((p) => ({ duration: p.duration, rate: p.rate }));
  const totalMs = phases.reduce((s, p) => s + p.duration, 0);
  const nSeconds = Math.ceil(totalMs / 1000);

  return new Promise<LoadSummary>((resolve, reject) => {
    // Set once every phase instance is built (see below).
    let t0 = performance.now();
    let wall0 = Date.now();
    const buckets: Bucket[] = Array.from({ length: nSeconds }, newBucket);
    const samples: LoadSample[] = [];
    const totalHist = newHistogram();
    let totalMax: number | null = null;
    let nextToEmit = 0;
    let done = false;
    let plannedEndReached = false;
    const runners: PhaseRunner[] = [];
    const timers = new Set<ReturnType<typeof setTimeout>>();

    const later = (fn: () => void, atMs: number): void => {
      const h = setTimeout(
        () => {
          timers.delete(h);
          fn();
        },
        Math.max(0, t0 + atMs - performance.now()),
      );
      timers.add(h);
    };

    const secondNow = (): number => Math.min(nSeconds - 1, Math.max(0, Math.floor((performance.now() - t0) / 1000)));

    const rec: Recorder = {
      bucket: () => (done ? null : (buckets[secondNow()] ?? null)),
      recordLatency: (b, ms) => {
        // Only completed responses are recorded; requests that hit the
        // deadline never produce a latency and are counted in `timeouts`.
        const us = Math.max(1, Math.round(ms * 1000));
        b.hist ??= newHistogram();
        b.hist.recordValue(us);
        totalHist.recordValue(us);
        const rounded = Math.round(ms * 1000) / 1000;
        b.maxMs = b.maxMs === null ? rounded : Math.max(b.maxMs, rounded);
        totalMax = totalMax === null ? rounded : Math.max(totalMax, rounded);
      },
      onDrainProgress: () => maybeEnd(),
      fail: (err) => finishRun(err),
    };

    const emit = (t: number, upToMs: number): void => {
      const b = buckets[t] ?? newBucket();
      const s: LoadSample = {
        t,
        ts: new Date(wall0 + t * 1000).toISOString(),
        offered: offeredBetween(phases, t * 1000, Math.min(upToMs, (t + 1) * 1000)),
        sent: b.sent,
        completed: b.completed,
        s2xx: b.s2xx,
        s3xx: b.s3xx,
        s4xx: b.s4xx,
        s5xx: b.s5xx,
        errors: b.errors,
        timeouts: b.timeouts,
        p50: pct(b.hist, 50),
        p95: pct(b.hist, 95),
        p99: pct(b.hist, 99),
        max: b.maxMs,
      };
      b.hist = null; // release
      samples.push(s);
      onSample?.(s);
    };

    // Emit every second except the last as soon as it is over; the last one
    // also absorbs the drain of in-flight requests and is emitted at the end.
    const tick = (): void => {
      if (done) return;
      try {
        while (nextToEmit < nSeconds - 1 && performance.now() - t0 >= (nextToEmit + 1) * 1000) {
          emit(nextToEmit, Number.POSITIVE_INFINITY);
          nextToEmit++;
        }
      } catch (err) {
        finishRun(err);
        return;
      }
      if (nextToEmit < nSeconds - 1) later(tick, (nextToEmit + 1) * 1000);
    };

    const stopAll = (): void => {
      for (const h of timers) clearTimeout(h);
      timers.clear();
      for (const r of runners) r.finish();
    };

    const summarize = (): LoadSummary => {
      const totals = zeroTotals();
      for (const s of samples) {
        for (const k of Object.keys(totals) as (keyof LoadTotals)[]) totals[k] += s[k];
      }
      return {
        samples,
        totals,
        latency: {
          p50: pct(totalHist, 50),
          p95: pct(totalHist, 95),
          p99: pct(totalHist, 99),
          max: totalMax,
        },
      };
    };

    const onAbort = (): void => finishRun(undefined, true);

    function finishRun(err?: unknown, aborted = false): void {
      if (done) return;
      const atMs = performance.now() - t0;
      const last = aborted ? secondNow() : nSeconds - 1;
      // Stop counting first (rec.bucket() returns null once done), then tear
      // down: in-flight requests abandoned by an abort are not counted.
      done = true;
      stopAll();
      signal?.removeEventListener("abort", onAbort);
      if (err !== undefined) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      try {
        while (nextToEmit <= last) {
          emit(nextToEmit, aborted ? atMs : Number.POSITIVE_INFINITY);
          nextToEmit++;
        }
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      resolve(summarize());
    }

    function maybeEnd(): void {
      if (done || !plannedEndReached) return;
      if (runners.every((r) => r.finished)) finishRun();
    }

    // Build every phase instance before the clock starts (clients connect lazily).
    let offset = 0;
    const planned: { runner: PhaseRunner; startMs: number; endMs: number }[] = [];
    try {
      for (const p of phases) {
        const startMs = offset;
        const endMs = offset + p.duration;
        offset = endMs;
        if (p.rate === 0) continue; // pause: no instance, its seconds just get zeros
        const runner = new PhaseRunner(spec, p.rate, startMs, p.duration, rec);
        runners.push(runner);
        runner.prepare();
        planned.push({ runner, startMs, endMs });
      }
    } catch (err) {
      finishRun(err);
      return;
    }
    if (done) return; // an instance reported an error while being built

    t0 = performance.now();
    wall0 = Date.now();
    signal?.addEventListener("abort", onAbort, { once: true });
    for (const { runner, startMs, endMs } of planned) {
      later(() => {
        if (done) return;
        runner.start(t0 + startMs, () => maybeEnd());
        later(() => runner.close(), endMs);
      }, startMs);
    }
    later(() => {
      plannedEndReached = true;
      maybeEnd();
    }, totalMs);
    if (nSeconds > 1) later(tick, 1000);
  });
}
