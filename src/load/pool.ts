// Connections, opened on demand up to a cap. Idle ones are a stack (LIFO): the most recently
// used is reused first, so a steady rate keeps a small hot set and the rest age out — closed by
// sweep() before a server's idle timeout can race a request on them.
import { Connection, type ConnectionSink, type Endpoint } from "./http1.js";

export class Pool {
  /** connections open or connecting */
  open = 0;
  /** most connections open at once */
  peak = 0;
  /** connections ever opened */
  opened = 0;
  /** idle connections, most recently used last; may hold dead ones (skipped, compacted by sweep) */
  private idle: Connection[] = [];
  private readonly all = new Set<Connection>();

  constructor(
    private readonly ep: Endpoint,
    private readonly request: Buffer,
    private readonly cap: number,
    private readonly sink: ConnectionSink,
  ) {}

  /** An idle connection, else a new one if under the cap (its request waits for the connect), else null. */
  acquire(): Connection | null {
    while (this.idle.length > 0) {
      const c = this.idle.pop() as Connection;
      if (!c.dead) return c;
    }
    if (this.open >= this.cap) return null;
    const c = new Connection(this.ep, this.request, this.sink);
    this.open++;
    this.opened++;
    if (this.open > this.peak) this.peak = this.open;
    this.all.add(c);
    return c;
  }

  release(c: Connection, now: number): void {
    c.idleSince = now;
    this.idle.push(c);
  }

  /** Bookkeeping for a connection that is gone (closed by the peer, failed, or destroyed by us). */
  remove(c: Connection): void {
    if (this.all.delete(c)) this.open--;
  }

  /** Close connections idle since before `olderThan` (ms from the run start). */
  sweep(olderThan: number): void {
    const keep: Connection[] = [];
    for (const c of this.idle) {
      if (c.dead) continue;
      if (c.idleSince < olderThan) {
        c.destroy();
        this.remove(c);
      } else keep.push(c);
    }
    this.idle = keep;
  }

  closeAll(): void {
    for (const c of this.all) c.destroy();
    this.all.clear();
    this.idle = [];
    this.open = 0;
  }
}
