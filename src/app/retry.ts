// Retries of a failing call: how many, how far apart, and a budget that caps them as a fraction of
// first attempts. Retries are what turns a struggling dependency into a dead one (every failure
// comes back `attempts` times, seed 003); backoff with jitter spreads them out and a budget bounds
// the extra load to a fraction, whatever the failure rate.
import { sleep } from "./timeout.js";

export interface RetryPolicy {
  /** Total attempts (1 = no retry). */
  attempts: number;
  backoff: "none" | "fixed" | "exponential";
  baseMs: number;
  maxMs: number;
  /** Full jitter: uniform in [0, delay]. */
  jitter: boolean;
  /** Retries / first attempts allowed over the window (0 = unlimited). */
  budget: number;
}

/**
 * Delay before retry number `retry` (1 = the first retry): none → 0, fixed → base, exponential →
 * base·2^(retry-1); capped at maxMs, then scaled by `random` (in [0, 1)) with jitter.
 */
export function retryDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  let ms: number;
  switch (policy.backoff) {
    case "none":
      return 0;
    case "fixed":
      ms = policy.baseMs;
      break;
    case "exponential":
      ms = policy.baseMs * 2 ** (retry - 1);
      break;
  }
  ms = Math.min(ms, policy.maxMs);
  return policy.jitter ? random() * ms : ms;
}

/**
 * Counts first attempts and retries over a sliding window (in 1 s buckets) and allows a retry only
 * while retries stay within `budget` × first attempts, like Finagle's RetryBudget or gRPC's retry
 * throttling.
 */
export class RetryBudget {
  private readonly requests: number[];
  private readonly retries: number[];
  private bucketStart = 0;
  private current = 0;

  constructor(
    readonly windowMs = 10_000,
    private readonly bucketMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {
    const n = Math.ceil(windowMs / bucketMs);
    this.requests = new Array<number>(n).fill(0);
    this.retries = new Array<number>(n).fill(0);
    this.bucketStart = this.now();
  }

  /** A first attempt was made. */
  recordRequest(): void {
    this.advance();
    this.requests[this.current] = (this.requests[this.current] ?? 0) + 1;
  }

  /** Takes one retry from the budget if there is room (`budget` 0 = unlimited). */
  tryRetry(budget: number): boolean {
    this.advance();
    if (budget > 0) {
      const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
      if (sum(this.retries) + 1 > budget * sum(this.requests)) return false;
    }
    this.retries[this.current] = (this.retries[this.current] ?? 0) + 1;
    return true;
  }

  /** Moves to the bucket of now, clearing the buckets that fell out of the window. */
  private advance(): void {
    const elapsed = Math.floor((this.now() - this.bucketStart) / this.bucketMs);
    if (elapsed <= 0) return;
    const n = this.requests.length;
    for (let i = 1; i <= Math.min(elapsed, n); i++) {
      const b = (this.current + i) % n;
      this.requests[b] = 0;
      this.retries[b] = 0;
    }
    this.current = (this.current + elapsed) % n;
    this.bucketStart += elapsed * this.bucketMs;
  }
}

export interface RetryHooks {
  /** A retry is about to be made (after its delay). */
  onRetry?(): void;
  /** A retry was wanted but the budget had no room: the last error is final. */
  onBudgetExhausted?(): void;
}

/**
 * Runs `op` until it succeeds, `policy.attempts` are used, or the budget says no; rejects with the
 * last error. `policy` is read before each retry, so a live change applies to calls in progress.
 */
export async function withRetries<T>(
  op: (attempt: number) => Promise<T>,
  policy: () => RetryPolicy,
  budget: RetryBudget,
  hooks: RetryHooks = {},
  wait: (ms: number) => Promise<void> = sleep,
): Promise<T> {
  budget.recordRequest();
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt);
    } catch (e) {
      const p = policy();
      if (attempt >= p.attempts) throw e;
      if (!budget.tryRetry(p.budget)) {
        hooks.onBudgetExhausted?.();
        throw e;
      }
      const ms = retryDelayMs(p, attempt);
      if (ms > 0) await wait(ms);
      hooks.onRetry?.();
    }
  }
}
