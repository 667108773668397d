// A trivial HTTP target for the load bench, run as a CHILD process so it never shares the
// driver's event loop. Answers "ok" at once (or, given a number of ms as its argument, that long
// after each request arrived: a fixed service time); on {type: "stall", ms} it holds every request that
// arrives during the next `ms` and answers them all at the end, then reports how many it held; with
// `afterFirst`, the stall starts that many ms after the first request it got (its own clock, so
// two runs stall at the same point of their load however late the order came).
// On {type: "report"} it tells how many requests it got and how bursty their arrival was (most
// in any 10 ms). Listens on 127.0.0.1 only; exits when the parent goes away.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type ToTarget = { type: "stall"; ms: number; afterFirst?: number } | { type: "report" };
export type FromTarget =
  | { type: "ready"; port: number }
  | { type: "stalled"; held: number; windowMs: number }
  | { type: "report"; received: number; maxPer10ms: number; seconds: number };

/** fixed service time, ms (0 = at once) */
const serviceMs = Number(process.argv[2] ?? 0);
let stallFrom = 0;
let stallUntil = 0;
/** a stall ordered to start `afterFirst` ms after the first request, before that request came */
let pending: { ms: number; afterFirst: number } | undefined;
let held: http.ServerResponse[] = [];
/** requests per 10 ms since the first one */
const bins: number[] = [];
let first = -1;
let received = 0;

const server = http.createServer((req, res) => {
  const now = performance.now();
  if (first < 0) {
    first = now;
    if (pending) stall(pending.ms, first + pending.afterFirst);
  }
  const bin = Math.floor((now - first) / 10);
  while (bins.length <= bin) bins.push(0);
  bins[bin] = (bins[bin] as number) + 1;
  received++;
  req.resume();
  if (now >= stallFrom && now < stallUntil) held.push(res);
  else if (serviceMs > 0) setTimeout(() => res.end("ok"), serviceMs);
  else res.end("ok");
});
server.keepAliveTimeout = 10_000;

const send = (m: FromTarget) => process.send?.(m);

process.on("message", (m: ToTarget) => {
  if (m.type === "report") {
    send({ type: "report", received, maxPer10ms: Math.max(0, ...bins), seconds: bins.length / 100 });
    return;
  }
  if (m.afterFirst !== undefined && first < 0) pending = { ms: m.ms, afterFirst: m.afterFirst };
  else stall(m.ms, m.afterFirst === undefined ? performance.now() : first + m.afterFirst);
});

/** Hold every request arriving in [from, from + ms), answer them all at its end. */
function stall(ms: number, from: number): void {
  stallFrom = from;
  stallUntil = from + ms;
  setTimeout(
    () => {
      const list = held;
      held = [];
      for (const r of list) r.end("ok");
      send({ type: "stalled", held: list.length, windowMs: performance.now() - from });
    },
    Math.max(0, stallUntil - performance.now()),
  );
}
process.on("disconnect", () => process.exit(0));

server.listen(0, "127.0.0.1", () => send({ type: "ready", port: (server.address() as AddressInfo).port }));
