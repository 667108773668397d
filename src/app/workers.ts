// Where the slots of admission.ts come from.
//
// Prefork: `workers` slots that each serve one request at a time, like unicorn or gunicorn sync
// workers, but as objects in one process rather than OS processes: 1,200 of them cost a cache
// connection each and little else, which is what lets one container model seed 001's 1,200
// workers on a 2-core machine. A free slot is picked least-recently-used first, so every slot
// takes its turn, as a worker would that is waiting in accept(): a slot whose cache connection was
// refused then serves its share of the requests from the database.
//
// Async: one shared pseudo-slot handed out up to maxInFlight times at once (0 = without limit).
import { Deque, type SlotSource } from "./admission.js";

export interface Slot {
  /** Prefork: 0, 1, 2, … (never reused); async: -1. */
  readonly id: number;
  busy: boolean;
  retired: boolean;
}

export interface SlotHooks {
  /** A slot came into existence (at start-up or when `workers` grew). */
  added?(slot: Slot): void;
  /** A slot is gone (when `workers` shrank; a busy slot goes when its request is over). */
  removed?(slot: Slot): void;
}

export class PreforkSlots implements SlotSource<Slot> {
  private readonly free = new Deque<Slot>();
  private readonly live = new Map<number, Slot>();
  private nextId = 0;
  private busyCount = 0;

  constructor(
    size: number,
    private readonly hooks: SlotHooks = {},
  ) {
    this.resize(size);
  }

  /** Slots in service (busy or free). */
  get size(): number {
    return this.live.size;
  }

  get busy(): number {
    return this.busyCount;
  }

  get slots(): IterableIterator<Slot> {
    return this.live.values();
  }

  take(): Slot | undefined {
    for (;;) {
      const slot = this.free.shift();
      if (!slot) return undefined;
      if (slot.retired) continue; // retired while free; dropped lazily
      slot.busy = true;
      this.busyCount++;
      return slot;
    }
  }

  give(slot: Slot): void {
    slot.busy = false;
    this.busyCount--;
    if (slot.retired) this.hooks.removed?.(slot);
    else this.free.push(slot);
  }

  /** Grows or shrinks to `n` slots; shrinking retires free slots first, busy ones when done. */
  resize(n: number): void {
    while (this.live.size < n) {
      const slot: Slot = { id: this.nextId++, busy: false, retired: false };
      this.live.set(slot.id, slot);
      this.hooks.added?.(slot);
      this.free.push(slot);
    }
    if (this.live.size <= n) return;
    const excess = [...this.live.values()].sort((a, b) => Number(a.busy) - Number(b.busy)).slice(0, this.live.size - n);
    for (const slot of excess) {
      slot.retired = true;
      this.live.delete(slot.id);
      if (!slot.busy) this.hooks.removed?.(slot);
    }
  }
}

/** The async model's pseudo-slot. */
export const ASYNC_SLOT: Slot = Object.freeze({ id: -1, busy: false, retired: false }) as Slot;

export class InFlightCap implements SlotSource<Slot> {
  private inUse = 0;

  /** `cap` is read at each request (0 = no cap). */
  constructor(private readonly cap: () => number) {}

  get busy(): number {
    return this.inUse;
  }

  take(): Slot | undefined {
    const cap = this.cap();
    if (cap > 0 && this.inUse >= cap) return undefined;
    this.inUse++;
    return ASYNC_SLOT;
  }

  give(): void {
    this.inUse--;
  }
}
