// Admission of item requests: a request either gets a slot at once, waits in the queue for one, or
// is shed with 503. The queue is what turns a slow dependency into latency for every request (all
// slots busy, everything else waits), so its order, bound and deadline are the knobs that matter.
// Slots come from a SlotSource: prefork workers (workers.ts) or a plain in-flight cap.

export type ShedReason = "queue" | "deadline" | "inflight" | "memory";
export const SHED_REASONS: readonly ShedReason[] = ["queue", "deadline", "inflight", "memory"];

/** Where slots come from. `take` hands out a free slot (or undefined); `give` takes it back. */
export interface SlotSource<T> {
  take(): T | undefined;
  give(slot: T): void;
}

export interface QueuePolicy {
  order: "fifo" | "lifo";
  /** Requests that may wait; null = unbounded, 0 = none (shed as soon as every slot is busy). */
  limit: number | null;
  /** A request that waited longer is shed when dequeued, without doing its work (0 = never). */
  deadlineMs: number;
}

export type Admitted<T> = { ok: true; slot: T; waitedMs: number } | { ok: false; reason: Exclude<ShedReason, "memory">; waitedMs: number };

interface Waiter<T> {
  since: number;
  resolve(result: Admitted<T>): void;
}

/** Double-ended queue: O(1) at both ends (an array with a moving head, compacted now and then). */
export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  pop(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    return this.items.pop();
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

export class Admission<T> {
  private readonly queue = new Deque<Waiter<T>>();

  constructor(
    private readonly source: SlotSource<T>,
    /** Read at every decision, so live changes apply to requests already queued. */
    private readonly policy: () => QueuePolicy,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Requests waiting for a slot. */
  get queueLength(): number {
    return this.queue.length;
  }

  /** Whether a request arriving now would be shed for lack of queue room (no slot free either). */
  get full(): boolean {
    const { limit } = this.policy();
    return limit !== null && this.queue.length >= limit;
  }

  /** A slot for one request (release it with `release`), or why the request is shed. */
  acquire(): Promise<Admitted<T>> {
    // Queued requests go first: a request arriving just as a slot frees must not overtake them.
    if (this.queue.length === 0) {
      const slot = this.source.take();
      if (slot !== undefined) return Promise.resolve({ ok: true, slot, waitedMs: 0 });
    }
    const { limit } = this.policy();
    if (limit !== null && this.queue.length >= limit) {
      return Promise.resolve({ ok: false, reason: limit === 0 ? "inflight" : "queue", waitedMs: 0 });
    }
    return new Promise<Admitted<T>>((resolve) => {
      this.queue.push({ since: this.now(), resolve });
      this.pump();
    });
  }

  release(slot: T): void {
    this.source.give(slot);
    this.pump();
  }

  /** Hands free slots to waiting requests; call it too when slots were added. */
  pump(): void {
    while (this.queue.length > 0) {
      const slot = this.source.take();
      if (slot === undefined) return;
      if (!this.grant(slot)) {
        this.source.give(slot); // every waiter was past its deadline
        return;
      }
    }
  }

  /** Gives `slot` to the next waiter in queue order, shedding the ones past their deadline. */
  private grant(slot: T): boolean {
    const { order, deadlineMs } = this.policy();
    for (;;) {
      const waiter = order === "lifo" ? this.queue.pop() : this.queue.shift();
      if (!waiter) return false;
      const waitedMs = this.now() - waiter.since;
      if (deadlineMs > 0 && waitedMs > deadlineMs) {
        waiter.resolve({ ok: false, reason: "deadline", waitedMs });
        continue;
      }
      waiter.resolve({ ok: true, slot, waitedMs });
      return true;
    }
  }
}
