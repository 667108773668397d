/**
 * Load from several generator processes. The harness forks N generators (generator.ts), each the
 * same open-model driver on its share of the declared arrivals — arrival k goes to generator
 * k mod N (schedule.ts), so the union of the shares is the declared stream — with its share of
 * the connection cap. All start their clocks at one instant. Each reports every second and every
 * cohort with its encoded HDR histogram over IPC; merge.ts sums the counts and adds the histograms
 * (percentiles from the merged histogram, never averaged), and the caller gets the same LoadSummary,
 * onSample and onCohort stream as from the in-process driver.
 *
 * Health: a generator that exits before its last message, reports an error, or sends no second for
 * LOST_MS after the second was due is LOST (killed, by its pid, if still there); one that sends a
 * second more than LATE_MS after it was due (by its own send time, so a busy harness does not
 * blame its generators), or that dispatched an arrival more than LAG_MS after its intended time,
 * is BEHIND. Either is told at once (onGenerator) and in the
 * summary's `generators`; a merged second waits for every generator not lost, bounded by LOST_MS.
 * The harness owns its generators by pid: an abort asks them to stop and kills any still there
 * STOP_MS later; they exit on their own when the harness goes (the IPC channel closes).
 */
import { type ChildProcess, fork } from "node:child_process";
import type { CohortSample } from "./cohorts.js";
import { runLoad } from "./driver.js";
import { Merger } from "./merge.js";
import { Schedule } from "./schedule.js";
import {
  type GeneratorEvent,
  type GeneratorFigure,
  type LoadOptions,
  type LoadSample,
  type LoadSpec,
  type LoadSummary,
  TOTAL_KEYS,
  zeroTotals,
} from "./types.js";

/** A generator process up, with its modules loaded. */
const READY_MS = 20_000;
/** A second reaching the harness this long after it was due: the generator is behind. */
export const LATE_MS = 1000;
/** An arrival dispatched this long after its intended time: the generator is behind. */
export const LAG_MS = 1000;
/** A second this long overdue: the generator is lost (and killed). */
export const LOST_MS = 5000;
/** After an abort, the generators' last seconds and their exit. */
const STOP_MS = 3000;
/** After a generator's last message, its exit. */
const EXIT_MS = 2000;
/** The shared start instant is this far ahead of the order to start, so every generator gets it in time. */
const START_AHEAD_MS = 50;
const WATCH_MS = 200;

export type ToGenerator = { type: "start"; spec: LoadSpec; at: number } | { type: "abort" };
export type FromGenerator =
  | { type: "ready" }
  /** `at`: when the generator sent it (epoch ms), so its own lateness is told apart from the harness's */
  | { type: "sample"; sample: LoadSample; hist: string | null; lag: number; at: number }
  | { type: "cohort"; cohort: CohortSample; hist: string | null }
  /** cpu_ms: the process's CPU time (user + system) since it started */
  | { type: "done"; connections: LoadSummary["connections"]; cpu_ms: number }
  | { type: "error"; message: string };

const COHORT_KEYS = ["sent", "ok", "failed", "errors", "timeouts"] as const;

/** Generator `index`'s part of a connection cap of `total` (the parts add up to it). */
export const connectionShare = (total: number, count: number, index: number): number =>
  Math.floor(total / count) + (index < total % count ? 1 : 0);

/** A load ready to start: the in-process driver, or N generator processes already up. */
export interface PreparedLoad {
  /** the generator processes' pids (none for the in-process driver) */
  readonly pids: readonly number[];
  run(opts: LoadOptions): Promise<LoadSummary>;
  /** Kills any generator still running (idempotent; run() does it too when it ends). */
  close(): void;
}

/**
 * `generators` = 1: the in-process driver (runLoad). More: forks them and waits until each is up
 * (bounded), so run() starts the load at once, as the in-process driver does.
 */
export async function prepareLoad(spec: LoadSpec, generators: number, signal?: AbortSignal): Promise<PreparedLoad> {
  if (generators <= 1) return { pids: [], run: (opts) => runLoad(spec, opts), close: () => {} };
  if (!Number.isInteger(generators) || generators > spec.connections)
    throw new Error(`load: ${generators} generators need an integer count of at most connections (${spec.connections})`);
  const g = new Generators(spec, generators);
  try {
    await g.up(signal);
  } catch (e) {
    g.close();
    throw e;
  }
  return g;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const now = () => performance.timeOrigin + performance.now();

class Gen {
  health: GeneratorFigure["health"] = "ok";
  reason: string | undefined;
  atMs: number | undefined;
  done = false;
  exited = false;
  /** the next second it owes */
  nextT = 0;
  readonly totals = zeroTotals();
  seconds = 0;
  worstDelay = 0;
  maxLag = 0;
  connections = { peak: 0, opened: 0 };
  cpuMs: number | null = null;
  stderr = "";
  readonly exit: Promise<void>;

  constructor(
    readonly index: number,
    readonly child: ChildProcess,
  ) {
    // "close" comes after the last message the process sent ("exit" may come before it).
    this.exit = new Promise((resolve) => child.once("close", () => resolve()));
    // A failed spawn or a send on a closed channel is an "error" event: unheard, it would crash the
    // harness. Its message is kept as the generator's last words; its exit (or the watchdog) tells.
    child.on("error", (e) => {
      this.stderr += `\n${e.message}`;
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      this.stderr = (this.stderr + d).slice(-2000);
    });
  }

  get live(): boolean {
    return this.health !== "lost" && !this.done;
  }

  /** How it went, as the last line on its stderr says (a crash's message), or "". */
  lastWords(): string {
    const line = this.stderr.trim().split("\n").pop()?.trim() ?? "";
    return line ? `: ${line.slice(0, 200)}` : "";
  }

  kill(): void {
    if (!this.exited && this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

class Generators implements PreparedLoad {
  private readonly gens: Gen[] = [];
  private readonly planned: number[];
  private readonly n: number;
  private readonly totalMs: number;
  private closed = false;
  private readonly killAll = () => this.close();

  constructor(
    private readonly spec: LoadSpec,
    private readonly count: number,
  ) {
    const sched = new Schedule(spec.phases);
    this.totalMs = sched.totalMs;
    this.n = Math.ceil(sched.totalMs / 1000);
    this.planned = Array.from({ length: count }, (_, i) => new Schedule(spec.phases, { index: i, of: count }).total);
  }

  get pids(): number[] {
    return this.gens.map((g) => g.child.pid ?? -1);
  }

  async up(signal?: AbortSignal): Promise<void> {
    process.once("exit", this.killAll);
    const entry = new URL("./generator-entry.mjs", import.meta.url);
    for (let i = 0; i < this.count; i++) {
      // execArgv [] : not the parent's flags (an inspector port, vitest's loaders).
      const child = fork(entry, [], { execArgv: [], stdio: ["ignore", "ignore", "pipe", "ipc"] });
      this.gens.push(new Gen(i, child));
    }
    await Promise.all(this.gens.map((g) => this.ready(g, signal)));
  }

  private ready(g: Gen, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const who = `load generator ${g.index + 1} of ${this.count}`;
      const end = (e?: Error) => {
        clearTimeout(timer);
        g.child.off("message", onMessage);
        g.child.off("exit", onExit);
        g.child.off("error", onError);
        signal?.removeEventListener("abort", onAbort);
        if (e) reject(e);
        else resolve();
      };
      const onMessage = (m: FromGenerator) => {
        if (m.type === "ready") end();
      };
      const onExit = (code: number | null, sig: string | null) =>
        end(new Error(`${who} exited before it was ready (${sig ?? `code ${code}`})${g.lastWords()}`));
      const onError = (e: Error) => end(new Error(`${who} could not start: ${e.message}`));
      const onAbort = () => end(new Error(`${who}: aborted while starting`));
      const timer = setTimeout(() => end(new Error(`${who} was not ready within ${secs(READY_MS)}`)), READY_MS);
      g.child.on("message", onMessage);
      g.child.once("exit", onExit);
      g.child.once("error", onError);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off("exit", this.killAll);
    for (const g of this.gens) g.kill();
  }

  run(opts: LoadOptions): Promise<LoadSummary> {
    if (opts.control) {
      this.close();
      return Promise.reject(new Error("load: a steered load (a game day) runs in-process; generators > 1 cannot be steered"));
    }
    if (this.closed) return Promise.reject(new Error("load: the generators were closed"));
    return new Promise<LoadSummary>(
      (resolve) => new RunOfGenerators(this.spec, this.count, this.gens, this.planned, this.n, this.totalMs, opts, resolve),
    ).finally(() => this.close());
  }
}

/** One run of the generators: messages in, merged seconds out, health watched. */
class RunOfGenerators {
  private readonly samples: LoadSample[] = [];
  private readonly cohorts: CohortSample[] = [];
  private readonly lags = new Map<number, number>();
  private readonly seconds: Merger<(typeof TOTAL_KEYS)[number], LoadSample>;
  private readonly cohortMerge: Merger<(typeof COHORT_KEYS)[number], CohortSample>;
  private readonly at: number;
  private abortedAt: number | undefined;
  private readonly watch: ReturnType<typeof setInterval>;
  private readonly timeout: number;
  private finished = false;
  /** when the watchdog last ran, ms from load start */
  private lastCheck = 0;

  constructor(
    spec: LoadSpec,
    private readonly count: number,
    private readonly gens: Gen[],
    private readonly planned: number[],
    private readonly n: number,
    private readonly totalMs: number,
    private readonly opts: LoadOptions,
    private readonly resolve: (s: LoadSummary) => void,
  ) {
    this.timeout = spec.timeout;
    this.seconds = new Merger(TOTAL_KEYS, (t, counts, latency, hist) => {
      const s: LoadSample = { t, ts: new Date(this.at + t * 1000).toISOString(), ...counts, ...latency };
      this.samples.push(s);
      const lag = this.lags.get(t) ?? 0;
      this.lags.delete(t);
      this.opts.onSample?.(s, hist, lag);
    });
    this.cohortMerge = new Merger(COHORT_KEYS, (t, counts, latency, hist) => {
      const c: CohortSample = { t, ...counts, ...latency };
      this.cohorts.push(c);
      this.opts.onCohort?.(c, hist);
    });
    this.at = now() + START_AHEAD_MS;
    for (const g of gens) {
      g.child.on("message", (m: FromGenerator) => this.onMessage(g, m));
      g.child.once("close", (code: number | null, sig: string | null) => this.onExit(g, code, sig));
      const share = { index: g.index, of: count };
      this.send(g, {
        type: "start",
        at: this.at,
        spec: { ...spec, share, connections: connectionShare(spec.connections, count, g.index) },
      });
    }
    this.watch = setInterval(() => this.check(), WATCH_MS);
    if (opts.signal?.aborted) this.onAbort();
    else opts.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  private send(g: Gen, m: ToGenerator): void {
    try {
      if (g.child.connected) g.child.send(m);
    } catch {
      // the channel closed under us: its exit tells the rest
    }
  }

  /** ms from load start */
  private elapsed(): number {
    return now() - this.at;
  }

  /** When second t is due at the harness, ms from load start: at its end, the last after the drain. */
  private dueMs(t: number): number {
    return t < this.n - 1 ? (t + 1) * 1000 : this.totalMs + this.timeout;
  }

  private live(): Set<number> {
    return new Set(this.gens.filter((g) => g.health !== "lost").map((g) => g.index));
  }

  private onMessage(g: Gen, m: FromGenerator): void {
    if (this.finished || g.health === "lost") return;
    if (m.type === "sample") {
      const s = m.sample;
      const delay = m.at - this.at - this.dueMs(s.t);
      if (this.abortedAt === undefined && delay > g.worstDelay) g.worstDelay = delay;
      if (m.lag > g.maxLag) g.maxLag = m.lag;
      if (this.abortedAt === undefined && delay > LATE_MS)
        this.behind(g, `it sent its second ${s.t} ${secs(delay)} after it was due (bound ${secs(LATE_MS)})`);
      if (m.lag > LAG_MS) this.behind(g, `it sent arrivals of second ${s.t} up to ${secs(m.lag)} after their time (bound ${secs(LAG_MS)})`);
      this.lags.set(s.t, Math.max(this.lags.get(s.t) ?? 0, m.lag));
      for (const k of TOTAL_KEYS) g.totals[k] += s[k];
      g.seconds++;
      g.nextT = s.t + 1;
      this.seconds.add(g.index, s, m.hist);
      this.seconds.drain(this.live());
    } else if (m.type === "cohort") {
      this.cohortMerge.add(g.index, m.cohort, m.hist);
      this.cohortMerge.drain(this.live());
    } else if (m.type === "done") {
      g.done = true;
      g.connections = m.connections;
      g.cpuMs = m.cpu_ms;
      this.settle();
    } else if (m.type === "error") this.lose(g, `failed: ${m.message}`);
  }

  private onExit(g: Gen, code: number | null, sig: string | null): void {
    g.exited = true;
    if (!this.finished && !g.done && g.health !== "lost")
      this.lose(g, `its process ${g.child.pid} ${sig ? `was killed by ${sig}` : `exited with code ${code}`}${g.lastWords()}`);
  }

  private behind(g: Gen, reason: string): void {
    if (g.health !== "ok") return;
    g.health = "behind";
    this.tell(g, reason);
  }

  private lose(g: Gen, reason: string): void {
    if (g.health === "lost") return;
    g.health = "lost";
    g.kill();
    // What it sent after its last reported second is not counted; what it had yet to send never went.
    this.tell(g, `${reason}; the record lacks its share from ${secs(g.nextT * 1000)} on`);
    // The merged seconds it held back go on without it.
    this.seconds.drain(this.live());
    this.cohortMerge.drain(this.live());
    this.settle();
  }

  private tell(g: Gen, reason: string): void {
    g.reason = reason;
    g.atMs = Math.max(0, Math.round(this.elapsed()));
    const e: GeneratorEvent = {
      index: g.index,
      count: this.count,
      pid: g.child.pid ?? null,
      health: g.health as GeneratorEvent["health"],
      at_ms: g.atMs,
      reason,
    };
    this.opts.onGenerator?.(e);
  }

  /** Every WATCH_MS: a generator whose next second is overdue is behind, then lost. */
  private check(): void {
    const t = this.elapsed();
    const blocked = t - this.lastCheck > WATCH_MS + 300;
    this.lastCheck = t;
    // The harness's own loop was held up: the generators' messages may be waiting behind this
    // timer, so judge on the next round, once they are read.
    if (blocked) return;
    for (const g of this.gens) {
      if (!g.live) continue;
      if (this.abortedAt !== undefined) {
        if (t - this.abortedAt > STOP_MS) this.lose(g, `it did not stop within ${secs(STOP_MS)} of the abort`);
        continue;
      }
      const overdue = t - this.dueMs(Math.min(g.nextT, this.n - 1));
      if (overdue > LOST_MS) this.lose(g, `no second ${g.nextT} from it ${secs(overdue)} after it was due (bound ${secs(LOST_MS)})`);
      else if (overdue > LATE_MS) this.behind(g, `its second ${g.nextT} was ${secs(overdue)} overdue (bound ${secs(LATE_MS)})`);
    }
  }

  private readonly onAbort = (): void => {
    if (this.abortedAt !== undefined) return;
    this.abortedAt = this.elapsed();
    for (const g of this.gens) if (g.live) this.send(g, { type: "abort" });
  };

  /** Once every generator is done or lost: the rest merged, the summary out, the processes gone. */
  private settle(): void {
    if (this.finished || this.gens.some((g) => g.live)) return;
    this.finished = true;
    clearInterval(this.watch);
    this.opts.signal?.removeEventListener("abort", this.onAbort);
    this.seconds.flush();
    this.cohortMerge.flush();
    const totals = zeroTotals();
    for (const s of this.samples) for (const k of TOTAL_KEYS) totals[k] += s[k];
    const summary: LoadSummary = {
      samples: this.samples,
      cohorts: this.cohorts,
      totals,
      latency: this.seconds.latency(),
      connections: {
        peak: this.gens.reduce((a, g) => a + g.connections.peak, 0),
        opened: this.gens.reduce((a, g) => a + g.connections.opened, 0),
      },
      generators: this.gens.map((g) => this.figure(g)),
    };
    void this.reap().then(() => this.resolve(summary));
  }

  private figure(g: Gen): GeneratorFigure {
    return {
      index: g.index,
      count: this.count,
      pid: g.child.pid ?? null,
      health: g.health,
      ...(g.reason ? { reason: g.reason } : {}),
      ...(g.atMs !== undefined ? { at_ms: g.atMs } : {}),
      planned: this.planned[g.index] as number,
      offered: g.totals.offered,
      sent: g.totals.sent,
      dropped: g.totals.dropped,
      seconds: g.seconds,
      worst_delay_ms: Math.max(0, Math.round(g.worstDelay)),
      max_dispatch_lag_ms: g.maxLag,
      cpu_ms: g.cpuMs,
    };
  }

  /** Each process exits after its last message; one still there after EXIT_MS is killed. */
  private async reap(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((r) => {
      timer = setTimeout(r, EXIT_MS);
    });
    await Promise.race([Promise.all(this.gens.map((g) => g.exit)), late]);
    clearTimeout(timer);
    for (const g of this.gens) g.kill();
  }
}
