// A trivial HTTP target for the load bench, run as a CHILD process so it never shares the
// driver's event loop. Answers "ok" at once; on {type: "stall", ms} it holds every request that
// arrives during the next `ms` and answers them all at the end, then reports how many it held.
// On {type: "report"} it tells how many requests it got and how bursty their arrival was (most
// in any 10 ms). Listens on 127.0.0.1 only; exits when the parent goes away.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type ToTarget = { type: "stall"; ms: number } | { type: "report" };
export type FromTarget =
  | { type: "ready"; port: number }
  | { type: "stalled"; held: number; windowMs: number }
  | { type: "report"; received: number; maxPer10ms: number; seconds: number };

let stallUntil = 0;
let held: http.ServerResponse[] = [];
/** requests per 10 ms since the first one */
const bins: number[] = [];
let first = -1;
let received = 0;

const server = http.createServer((req, res) => {
  const now = performance.now();
  if (first < 0) first = now;
  const bin = Math.floor((now - first) / 10);
  while (bins.length <= bin) bins.push(0);
  bins[bin] = (bins[bin] as number) + 1;
  received++;
  req.resume();
  if (now < stallUntil) held.push(res);
  else res.end("ok");
});
server.keepAliveTimeout = 10_000;

const send = (m: FromTarget) => process.send?.(m);

process.on("message", (m: ToTarget) => {
  if (m.type === "report") {
    send({ type: "report", received, maxPer10ms: Math.max(0, ...bins), seconds: bins.length / 100 });
    return;
  }
  const from = performance.now();
  stallUntil = from + m.ms;
  setTimeout(() => {
    const list = held;
    held = [];
    for (const r of list) r.end("ok");
    send({ type: "stalled", held: list.length, windowMs: performance.now() - from });
  }, m.ms);
});
process.on("disconnect", () => process.exit(0));

server.listen(0, "127.0.0.1", () => send({ type: "ready", port: (server.address() as AddressInfo).port }));
