// Memory mechanics: a large allocation at process start (seed 000's workers loading huge blobs), a
// steady leak (seed 002), and shedding when memory nears the container's limit (seed 002's
// proposed backpressure). Allocations are Buffers filled with a non-zero byte, so every page is
// really touched and counts in RSS (zero-filled fresh pages may never be backed).
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { sleep } from "./timeout.js";

const MIB = 1024 * 1024;

/** Memory kept until released. */
export class Ballast {
  private readonly chunks: Buffer[] = [];
  private total = 0;

  get bytes(): number {
    return this.total;
  }

  add(bytes: number): void {
    for (let left = Math.floor(bytes); left > 0; ) {
      const n = Math.min(left, MIB);
      this.chunks.push(Buffer.allocUnsafeSlow(n).fill(0x5a));
      this.total += n;
      left -= n;
    }
  }

  /** Drops chunks down to `bytes` held (RSS falls once they are collected). */
  shrinkTo(bytes: number): void {
    while (this.total > bytes && this.chunks.length > 0) this.total -= this.chunks.pop()?.length ?? 0;
    if (this.total < bytes) this.add(bytes - this.total); // the last chunk dropped was partly needed
  }
}

/**
 * Brings `ballast` to `mb` MiB: allocates the difference evenly over `spreadMs` (0 = at once), or
 * releases the excess. Stops early once `current()` is false (a newer target replaced this one).
 */
export async function startupLoad(ballast: Ballast, mb: number, spreadMs: number, current: () => boolean = () => true): Promise<void> {
  const target = Math.floor(mb * MIB);
  if (ballast.bytes >= target) {
    ballast.shrinkTo(target);
    return;
  }
  if (spreadMs <= 0) {
    ballast.add(target - ballast.bytes);
    return;
  }
  const from = ballast.bytes;
  const start = performance.now();
  while (ballast.bytes < target && current()) {
    const due = Math.floor(Math.min(target, from + ((target - from) * (performance.now() - start)) / spreadMs));
    if (due > ballast.bytes) ballast.add(due - ballast.bytes);
    if (ballast.bytes < target) await sleep(10);
  }
}

/** Leaks `rate()` MiB per minute into a ballast of its own; the rate is read at each tick. */
export class Leak {
  readonly ballast = new Ballast();
  private carry = 0;
  private last = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly rateMbPerMin: () => number) {}

  start(tickMs = 250): void {
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  tick(): void {
    const now = performance.now();
    this.carry += (this.rateMbPerMin() * MIB * (now - this.last)) / 60_000;
    this.last = now;
    // Whole pages only: many tiny Buffers would measure allocator overhead, not the leak.
    if (this.carry >= 4096) {
      const bytes = Math.floor(this.carry / 4096) * 4096;
      this.ballast.add(bytes);
      this.carry -= bytes;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface MemoryLimit {
  bytes: number;
  /** Where the limit came from: "cgroup v2", "cgroup v1" or "host" (os.totalmem()). */
  source: string;
}

/** The memory limit of this container: cgroup v2 memory.max, else cgroup v1, else the host's RAM. */
export function memoryLimit(read: (path: string) => string = (p) => readFileSync(p, "utf8")): MemoryLimit {
  const host = totalmem();
  const tryRead = (path: string): number | undefined => {
    try {
      const text = read(path).trim();
      if (text === "max") return undefined;
      const n = Number(text);
      // v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages).
      return Number.isFinite(n) && n > 0 && n < host ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const v2 = tryRead("/sys/fs/cgroup/memory.max");
  if (v2 !== undefined) return { bytes: v2, source: "cgroup v2" };
  const v1 = tryRead("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  if (v1 !== undefined) return { bytes: v1, source: "cgroup v1" };
  return { bytes: host, source: "host" };
}

/**
 * Decides whether to shed for memory: RSS / limit >= fraction (0 = never). Re-evaluated every
 * `intervalMs` rather than per request, since reading RSS is a system call.
 */
export class MemoryShedder {
  private state = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fraction: () => number,
    /** Resident bytes that count against the limit (in cluster mode, every process's). */
    private readonly rss: () => number,
    readonly limitBytes: number,
  ) {}

  get shedding(): boolean {
    return this.state;
  }

  check(): boolean {
    const f = this.fraction();
    this.state = f > 0 && this.rss() / this.limitBytes >= f;
    return this.state;
  }

  start(intervalMs = 100): void {
    this.check();
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
