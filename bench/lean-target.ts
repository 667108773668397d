// bench/target.ts on a leaner server, for benches at thousands of requests per second on 2 shared
// cores: raw node:net instead of node:http (a request is counted at its blank line: the load
// driver sends bodiless requests, one at a time per connection), one canned keep-alive response,
// and the fixed service time kept in one FIFO with one timer (every request waits the same, so the
// queue stays in due order) instead of a timer per request. So the target spends its CPU on
// sockets, not on parsing. Stalls and reports as target-control.ts says. A CHILD process on
// 127.0.0.1; exits when the parent goes away.
import net, { type Socket } from "node:net";
import { serviceMs, targetControl } from "./target-control.js";

const OK = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
const END = Buffer.from("\r\n\r\n");

const answer = (s: Socket) => {
  if (!s.destroyed) s.write(OK);
};
const ctl = targetControl<Socket>(answer);

/** answers due, in due order (ms, performance.now()) */
const dueAt: number[] = [];
const dueSock: Socket[] = [];
let head = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

function flush(): void {
  timer = undefined;
  const now = performance.now();
  while (head < dueAt.length && (dueAt[head] as number) <= now) answer(dueSock[head++] as Socket);
  if (head > 4096 && head * 2 > dueAt.length) {
    dueAt.splice(0, head);
    dueSock.splice(0, head);
    head = 0;
  }
  arm();
}

function arm(): void {
  if (timer === undefined && head < dueAt.length) timer = setTimeout(flush, Math.max(0, (dueAt[head] as number) - performance.now()));
}

function request(s: Socket): void {
  const now = performance.now();
  if (ctl.arrived(s, now)) return;
  if (serviceMs <= 0) answer(s);
  else {
    dueAt.push(now + serviceMs);
    dueSock.push(s);
    arm();
  }
}

const server = net.createServer((s) => {
  s.setNoDelay(true);
  // the last 3 bytes of the previous chunk, so a blank line split across reads still counts
  let tail: Buffer = Buffer.alloc(0);
  s.on("data", (chunk: Buffer) => {
    const buf = tail.length ? Buffer.concat([tail, chunk]) : chunk;
    let i = buf.indexOf(END);
    let from = 0;
    while (i >= 0) {
      request(s);
      from = i + END.length;
      i = buf.indexOf(END, from);
    }
    tail = buf.subarray(Math.max(from, buf.length - 3));
  });
  s.on("error", () => {});
});
ctl.serve(server);
