// Request deadlines as a FIFO: requests are sent in intended-time order and every deadline is
// intended time + the same timeout, so deadlines arrive sorted and one ring buffer replaces a
// timer per request. Completed requests are not removed; their entries go stale (the
// connection's seq moved on, or it is no longer busy) and are skipped at the head.
import type { Connection } from "./http1.js";

export class Deadlines {
  private at = new Float64Array(1024);
  private seq = new Float64Array(1024);
  private conn: (Connection | undefined)[] = new Array(1024);
  private head = 0;
  private size = 0;

  push(deadline: number, c: Connection): void {
    if (this.size === this.at.length) this.grow();
    const i = (this.head + this.size) & (this.at.length - 1);
    this.at[i] = deadline;
    this.seq[i] = c.seq;
    this.conn[i] = c;
    this.size++;
  }

  /** The earliest live deadline (stale entries at the head are dropped), or Infinity. */
  next(): number {
    while (this.size > 0) {
      const c = this.conn[this.head] as Connection;
      if (c.busy && c.seq === this.seq[this.head]) return this.at[this.head] as number;
      this.pop();
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Removes and passes on every live entry due at or before `now`. */
  expire(now: number, onExpired: (c: Connection) => void): void {
    while (this.next() <= now) {
      const c = this.conn[this.head] as Connection;
      this.pop();
      onExpired(c);
    }
  }

  clear(): void {
    this.conn.fill(undefined);
    this.head = 0;
    this.size = 0;
  }

  private pop(): void {
    this.conn[this.head] = undefined;
    this.head = (this.head + 1) & (this.at.length - 1);
    this.size--;
  }

  private grow(): void {
    const n = this.at.length * 2;
    const at = new Float64Array(n);
    const seq = new Float64Array(n);
    const conn: (Connection | undefined)[] = new Array(n);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & (this.at.length - 1);
      at[k] = this.at[i] as number;
      seq[k] = this.seq[i] as number;
      conn[k] = this.conn[i];
    }
    this.at = at;
    this.seq = seq;
    this.conn = conn;
    this.head = 0;
  }
}
