// One load client run in its own process, so that its CPU is its own and it can be pinned with
// taskset like wrk. Prints one JSON line (ClientResult) and exits.
//
//   tsx bench/client.ts driver|autocannon URL CONNECTIONS SECONDS [RATE]
//
// Without RATE: saturate. The driver's max-throughput mode is its ordinary open-model path
// offered 1,000,000 req/s with a cap of CONNECTIONS: a connection is refilled the moment it frees
// up and the excess arrivals are dropped. autocannon runs closed-loop, as fast as it can.
// With RATE: the driver paces RATE req/s; autocannon gets overallRate RATE (its per-connection
// budget per second, spent in a burst at the start of each second).
import autocannon from "autocannon";
import { isLoopbackUrl, runLoad } from "../src/load/driver.js";
import { type CpuWindow, cpuWindow } from "./cpu.js";

export interface ClientResult {
  tool: string;
  /** 2xx responses per second of the run */
  rps: number;
  /** CPU of this process during the run, in cores (1 = one core busy) */
  cpu: number;
  p50: number | null;
  p99: number | null;
  note: string;
  /** the machine and the process BENCH_WATCH_PID (the target) during the run */
  during?: CpuWindow;
}

const [tool, url, conns, secs, rateArg] = process.argv.slice(2);
if ((tool !== "driver" && tool !== "autocannon") || !url || !isLoopbackUrl(url) || !conns || !secs) {
  console.error("usage: tsx bench/client.ts driver|autocannon http://127.0.0.1:PORT/ CONNECTIONS SECONDS [RATE]");
  process.exit(2);
}
const connections = Number(conns);
const seconds = Number(secs);
const rate = rateArg === undefined ? undefined : Number(rateArg);

const watch = Number(process.env.BENCH_WATCH_PID) || undefined;
const endWindow = cpuWindow(watch);
const c0 = process.cpuUsage();
const t0 = performance.now();
let out: Omit<ClientResult, "cpu" | "tool">;
if (tool === "driver") {
  const sum = await runLoad({ url, phases: [{ duration: seconds * 1000, rate: rate ?? 1_000_000 }], timeout: 2000, connections }, {});
  const wall = (performance.now() - t0) / 1000;
  const t = sum.totals;
  out = {
    rps: t.s2xx / wall,
    p50: sum.latency.p50,
    p99: sum.latency.p99,
    note: `sent ${t.sent}, dropped ${t.dropped}, errors ${t.errors}, timeouts ${t.timeouts}, peak ${sum.connections.peak} conns (opened ${sum.connections.opened})`,
  };
} else {
  const res = await autocannon({
    url,
    connections,
    duration: seconds,
    // its coordinated-omission "correction" is wrong (DESIGN.md) and refused without a rate
    ...(rate === undefined ? {} : { overallRate: rate, ignoreCoordinatedOmission: true }),
  });
  out = {
    rps: res["2xx"] / res.duration,
    p50: res.latency.p50,
    p99: res.latency.p99,
    note: `${res.connections} conns, errors ${res.errors}, timeouts ${res.timeouts}`,
  };
}
const wall = performance.now() - t0;
const c = process.cpuUsage(c0);
const result: ClientResult = { tool, cpu: (c.user + c.system) / 1000 / wall, ...out, during: endWindow() };
process.stdout.write(`${JSON.stringify(result)}\n`);
