// A trivial HTTP target for the load bench, run as a CHILD process so it never shares the
// driver's event loop. Answers "ok" at once (or, given a number of ms as its argument, that long
// after each request arrived: a fixed service time); stalls and reports as target-control.ts says.
// Listens on 127.0.0.1 only; exits when the parent goes away.
import http from "node:http";
import { serviceMs, targetControl } from "./target-control.js";

export type { FromTarget, ToTarget } from "./target-control.js";

const ctl = targetControl<http.ServerResponse>((res) => res.end("ok"));

const server = http.createServer((req, res) => {
  req.resume();
  if (ctl.arrived(res, performance.now())) return;
  if (serviceMs > 0) setTimeout(() => res.end("ok"), serviceMs);
  else res.end("ok");
});
server.keepAliveTimeout = 10_000;
ctl.serve(server);
