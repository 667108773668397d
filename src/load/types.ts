// The load stage's plain data types (what run.ts, observe/ and analyze/ see).
import type { Histogram } from "hdr-histogram-js";
import type { CohortSample } from "./cohorts.js";
import type { LoadControl } from "./control.js";
import type { RatePhase, Share } from "./schedule.js";

export type { RatePhase, Share } from "./schedule.js";

export interface LoadSpec {
  /** http://HOST:PORT/path — HOST is loopback (127.0.0.1 / localhost / ::1) or one of `ownHosts`. */
  url: string;
  /** Addresses of the run's own containers, on the network it created: the only non-loopback
   * hosts load may go to (the runtime gives them; a user's URL never adds to them). */
  ownHosts?: string[];
  method?: "GET" | "POST" | "PUT" | "DELETE";
  /** run one after another; a spike or pause-then-burst is a sequence of phases */
  phases: RatePhase[];
  /** ms, client deadline per request, counted from its intended send time */
  timeout: number;
  /** cap on open connections; an arrival that finds none free at the cap is dropped */
  connections: number;
  /** this driver is one of several generators and sends only its share of the arrivals
   * (schedule.ts); absent = all of them */
  share?: Share;
}

/** One per second of load, second index t = 0,1,2… from the run start. */
export interface LoadSample extends LoadTotals, LoadLatency {
  t: number;
  /** ISO time of the second's start */
  ts: string;
}

/**
 * offered / sent / dropped count arrivals by their intended second (offered = sent + dropped);
 * the outcomes (completed, status classes, errors, timeouts, latency) by the second the driver
 * saw them, the drain after the planned end folded into the last second.
 */
export interface LoadTotals {
  /** arrivals planned by the rate profile (for an aborted run, those whose time had come) */
  offered: number;
  /** arrivals handed to a connection (written at once, or as soon as a new connection is up) */
  sent: number;
  /** arrivals that found every connection busy at the cap: not sent, never queued */
  dropped: number;
  /** responses within the deadline (any status); goodput = s2xx + s3xx */
  completed: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  /** of the 5xx, 503 Service Unavailable: a refusal (a shedding service, an LB with no server up) */
  s503: number;
  /** requests lost to connection errors (refused, reset, closed by the peer, malformed response) */
  errors: number;
  /** requests with no complete response by the deadline */
  timeouts: number;
}

/**
 * Latency ms from the intended send time (so a stall or a late send shows), of the responses
 * completed in the window and of the requests that timed out in it (counted at the deadline,
 * a lower bound); null if none.
 */
export interface LoadLatency {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface LoadSummary {
  samples: LoadSample[];
  /** outcomes by intended send second (see cohorts.ts) */
  cohorts: CohortSample[];
  totals: LoadTotals;
  latency: LoadLatency;
  /** connections: most open at once, and opened over the run (with several generators, the sum
   * of each one's peak: an upper bound) */
  connections: { peak: number; opened: number };
  /** with several generators (generators.ts): how each one did; absent for the in-process driver */
  generators?: GeneratorFigure[];
}

/** One load generator's run, as the harness saw it. */
export interface GeneratorFigure {
  /** 0-based; it took the declared arrivals k with k mod count = index */
  index: number;
  count: number;
  pid: number | null;
  /** ok; behind: it sent its seconds late or dispatched late past the bound; lost: it died, failed
   * or stopped answering, and its share after that was never sent */
  health: "ok" | "behind" | "lost";
  /** why it is behind or lost, one line, and when it became so (ms from load start) */
  reason?: string;
  at_ms?: number;
  /** its share of the plan's arrivals */
  planned: number;
  offered: number;
  sent: number;
  dropped: number;
  /** seconds it reported, of the run's */
  seconds: number;
  /** the latest any of its seconds reached the harness after the second was due, ms */
  worst_delay_ms: number;
  /** the latest it dispatched an arrival after its intended time, ms */
  max_dispatch_lag_ms: number;
  /** its process's CPU time (user + system) from start to its last message, ms; null if it never sent it */
  cpu_ms: number | null;
}

/** A generator fell behind or was lost, told as it happens (the run records it as an event). */
export interface GeneratorEvent {
  index: number;
  count: number;
  pid: number | null;
  health: "behind" | "lost";
  /** ms from load start */
  at_ms: number;
  reason: string;
}

export interface LoadOptions {
  /** Called once per second, in order, while the run goes (the last second after the drain); with
   * the second's latency histogram (µs; null if it has none), which the driver drops afterwards,
   * and its lag: the latest an arrival of that intended second was dispatched after its intended
   * time, ms (0 if none was sent). A driver that falls behind its clock shows there. */
  onSample?: (s: LoadSample, hist: Histogram | null, lagMs: number) => void;
  /** Called once per intended send second, in order, once its requests resolved (`timeout` after
   * it ends); with the cohort's latency histogram as for onSample. */
  onCohort?: (c: CohortSample, hist: Histogram | null) => void;
  /** Several generators (generators.ts): one fell behind or was lost. */
  onGenerator?: (e: GeneratorEvent) => void;
  signal?: AbortSignal;
  /** Steers the rate while the load runs (control.ts); the driver attaches itself at start. */
  control?: LoadControl;
}

export const TOTAL_KEYS = [
  "offered",
  "sent",
  "dropped",
  "completed",
  "s2xx",
  "s3xx",
  "s4xx",
  "s5xx",
  "s503",
  "errors",
  "timeouts",
] as const;

export function zeroTotals(): LoadTotals {
  return { offered: 0, sent: 0, dropped: 0, completed: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0, s503: 0, errors: 0, timeouts: 0 };
}
