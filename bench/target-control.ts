// What the benches' targets (target.ts on node:http, lean-target.ts on raw sockets) share: the
// count of requests and their burstiness, the stall (hold every request arriving in a window,
// answer them all at its end), and the IPC with the bench that started them.
import type { AddressInfo, Server } from "node:net";

export type ToTarget = { type: "stall"; ms: number; afterFirst?: number } | { type: "report" };
export type FromTarget =
  | { type: "ready"; port: number }
  | { type: "stalled"; held: number; windowMs: number }
  | { type: "report"; received: number; maxPer10ms: number; seconds: number };

/** fixed service time from the target's argument, ms (0 = at once) */
export const serviceMs = Number(process.argv[2] ?? 0);

const send = (m: FromTarget) => process.send?.(m);

/**
 * Counts arrivals and runs stalls for a target whose requests are answered by `answer(r)`; `serve`
 * listens on 127.0.0.1 and tells the bench its port. On {type: "stall", ms} every request that
 * arrives during the next `ms` is held and all are answered at the end, then how many is reported;
 * with `afterFirst`, the stall starts that many ms after the first request the target got (its own
 * clock, so two runs stall at the same point of their load however late the order came). On
 * {type: "report"}: how many requests, and the most in any 10 ms. Exits when the bench goes away.
 */
export function targetControl<R>(answer: (r: R) => void) {
  let stallFrom = Number.POSITIVE_INFINITY;
  let stallUntil = 0;
  /** a stall ordered to start `afterFirst` ms after the first request, before that request came */
  let pending: { ms: number; afterFirst: number } | undefined;
  let held: R[] = [];
  /** requests per 10 ms since the first one */
  const bins: number[] = [];
  let first = -1;
  let received = 0;

  /** Hold every request arriving in [from, from + ms), answer them all at its end. */
  const stall = (ms: number, from: number): void => {
    stallFrom = from;
    stallUntil = from + ms;
    setTimeout(
      () => {
        const list = held;
        held = [];
        for (const r of list) answer(r);
        send({ type: "stalled", held: list.length, windowMs: performance.now() - from });
      },
      Math.max(0, stallUntil - performance.now()),
    );
  };

  process.on("message", (m: ToTarget) => {
    if (m.type === "report") {
      send({ type: "report", received, maxPer10ms: Math.max(0, ...bins), seconds: bins.length / 100 });
      return;
    }
    if (m.afterFirst !== undefined && first < 0) pending = { ms: m.ms, afterFirst: m.afterFirst };
    else stall(m.ms, m.afterFirst === undefined ? performance.now() : first + m.afterFirst);
  });
  process.on("disconnect", () => process.exit(0));

  return {
    /** A request arrived: counted, and held (true) when a stall is on, else the caller answers it. */
    arrived(r: R, now: number): boolean {
      if (first < 0) {
        first = now;
        if (pending) stall(pending.ms, first + pending.afterFirst);
      }
      const bin = Math.floor((now - first) / 10);
      while (bins.length <= bin) bins.push(0);
      bins[bin] = (bins[bin] as number) + 1;
      received++;
      if (now >= stallFrom && now < stallUntil) {
        held.push(r);
        return true;
      }
      return false;
    },
    serve(server: Server): void {
      server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () =>
        send({ type: "ready", port: (server.address() as AddressInfo).port }),
      );
    },
  };
}
