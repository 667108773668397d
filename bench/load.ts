// `npm run bench:load` — the load driver on the three figures of issue 8, each beside plain
// autocannon (and wrk for throughput). A benchmark, not a test: it prints numbers.
//
//  (a) share of planned arrivals actually sent while a loopback target (a child process) holds
//      every response for 2 s, at 200 and 2,000 req/s — counted at the server;
//  (b) max requests/s against HAProxy answering by itself (`http-request return`): driver vs wrk
//      vs autocannon, 50 connections each, in interleaved rounds (this machine is shared, so
//      medians, per-round ratios, and the CPU other processes took during each run);
//  (c) CPU of the driver process at 1,000 req/s for 5 s, as % of one core.
//
// All traffic goes to 127.0.0.1; every step is bounded in time; the HAProxy container is
// labelled and removed in `finally` and on SIGINT/SIGTERM.
import { execFile } from "node:child_process";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import autocannon from "autocannon";
import { ensureImages } from "../src/images/build.js";
import { resolveSource } from "../src/images/source.js";
import { runLoad } from "../src/load/driver.js";
import { docker } from "../src/runtime/docker/client.js";
import type { ClientResult } from "./client.js";
import { cpuWindow } from "./cpu.js";
import { children, startTarget } from "./target-client.js";

const STALL_MS = 2000;
const STALL_RUN_S = 5;
const TP_ROUNDS = 7;
const TP_S = 4;
const CONNS = 50;
const CPU_RATE = 1000;
const CPU_S = 5;
const BENCH_LABEL = "cascade.bench";
const WRK = "/usr/bin/wrk";
/** Two or more CPUs: HAProxy gets CPU 1, each client CPU 0, so every client has the same single core. */
const PIN = cpus().length >= 2;

const execFileP = promisify(execFile);
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const int = (x: number) => Math.round(x).toLocaleString("en-US");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`  … ${s}\n`);

// ---------- (a) stall ----------

interface StallRow {
  who: string;
  rate: number;
  held: number;
  planned: number;
  note: string;
}

/** The driver at `rate`; the target stalls for 2 s from the end of second 0 (run seconds 1–2). */
async function stallDriver(rate: number): Promise<StallRow> {
  const target = await startTarget();
  try {
    let stalled: Promise<{ held: number }> | undefined;
    const sum = await runLoad(
      { url: target.url, phases: [{ duration: STALL_RUN_S * 1000, rate }], timeout: 5000, connections: 10_000 },
      {
        onSample: (s) => {
          if (s.t === 0) stalled = target.stall(STALL_MS);
        },
      },
    );
    const { held } = await (stalled as Promise<{ held: number }>);
    const inStall = sum.samples.slice(1, 3);
    const sent = inStall.reduce((a, s) => a + s.sent, 0);
    const offered = inStall.reduce((a, s) => a + s.offered, 0);
    return {
      who: "cascade driver, cap 10,000 conns",
      rate,
      held,
      planned: (rate * STALL_MS) / 1000,
      note: `driver's own count ${sent}/${offered} in seconds 1-2, dropped ${sum.totals.dropped}, peak ${int(sum.connections.peak)} conns; p99 ${Math.round(sum.latency.p99 ?? 0)} ms, max ${Math.round(sum.latency.max ?? 0)} ms`,
    };
  } finally {
    target.stop();
  }
}

/** Plain autocannon (closed loop, overallRate), same target and stall. */
async function stallAutocannon(rate: number, connections: number): Promise<StallRow> {
  const target = await startTarget();
  try {
    const run = autocannon({
      url: target.url,
      connections,
      overallRate: rate,
      duration: STALL_RUN_S,
      timeout: 5,
      ignoreCoordinatedOmission: true,
    });
    await sleep(1000);
    const { held } = await target.stall(STALL_MS);
    const res = await run;
    return {
      who: `autocannon, ${connections} connections`,
      rate,
      held,
      planned: (rate * STALL_MS) / 1000,
      note: `(it used ${res.connections} connections); its p99 ${res.latency.p99} ms`,
    };
  } finally {
    target.stop();
  }
}

// ---------- (b) throughput against HAProxy ----------

const haproxyCfg = (port: number) =>
  [
    "global",
    "  maxconn 4000",
    "  nbthread 1",
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 30s",
    "  timeout server 30s",
    "frontend fe",
    `  bind 127.0.0.1:${port}`,
    "  http-request return status 200 content-type text/plain string ok",
    "",
  ].join("\n");

let containerId: string | undefined;

async function removeContainer(): Promise<void> {
  const id = containerId;
  containerId = undefined;
  if (id)
    await docker()
      .getContainer(id)
      .remove({ force: true })
      .catch(() => {});
}

/** Containers left by a bench whose process is gone (SIGKILLed). */
async function reapBenchLeftovers(): Promise<void> {
  for (const c of await docker().listContainers({ all: true, filters: { label: [BENCH_LABEL] } })) {
    const pid = Number(c.Labels[BENCH_LABEL]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {}
    if (!alive)
      await docker()
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {});
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}

/**
 * HAProxy from the project's image on the host network, bound to 127.0.0.1 only. Not a
 * published port: without iptables, Docker's userland proxy carries published ports and is
 * itself the bottleneck (a first probe: wrk 16.6k req/s through it, 48k+ direct).
 */
async function startHaproxy(): Promise<{ url: string; image: string; pid: number }> {
  const { source } = resolveSource();
  const { refs } = await ensureImages({ source, roles: ["haproxy"], progress: () => {}, dryRun: true });
  const image = refs.haproxy as string;
  if (!(await docker().listImages({ filters: { reference: [image] } })).length)
    throw new Error(`image ${image} is missing: run \`node bin/cascade.js images build\` first`);
  await reapBenchLeftovers();
  const port = await freePort();
  const c = await docker().createContainer({
    name: `cascade-bench-haproxy-${process.pid}`,
    Image: image,
    Labels: { [BENCH_LABEL]: String(process.pid) },
    Env: [`HAPROXY_CFG=${haproxyCfg(port)}`],
    Cmd: ["sh", "-c", 'printf "%s\\n" "$HAPROXY_CFG" > /tmp/haproxy.cfg && exec haproxy -db -f /tmp/haproxy.cfg'],
    HostConfig: { NetworkMode: "host", ...(PIN ? { CpusetCpus: "1" } : {}) },
  });
  containerId = c.id;
  await c.start();
  const url = `http://127.0.0.1:${port}/`;
  const until = Date.now() + 15_000;
  while ((await get(url)) !== 200) {
    if (Date.now() > until) throw new Error("HAProxy did not answer within 15 s");
    await sleep(100);
  }
  const pid = (await c.inspect()).State.Pid;
  return { url, image, pid };
}

const pinned = (cmd: string[]) => (PIN ? ["taskset", "-c", "0", ...cmd] : cmd);

async function run(cmd: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  const p = execFileP(cmd[0] as string, cmd.slice(1), { timeout: timeoutMs, maxBuffer: 1 << 20, env: { ...process.env, ...env } });
  children.add(p.child);
  try {
    return await p;
  } finally {
    children.delete(p.child);
  }
}

/** wrk starts in a few ms, so the window around the whole command is its run. */
async function wrkOnce(url: string, watchPid: number): Promise<ClientResult> {
  const cmd = pinned(["/usr/bin/time", "-f", "cpu %U %S %e", WRK, "-t1", `-c${CONNS}`, `-d${TP_S}s`, url]);
  const end = cpuWindow(watchPid);
  const { stdout, stderr } = await run(cmd, (TP_S + 15) * 1000);
  const during = end();
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const t = /cpu ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
  if (!rps || !t) throw new Error(`cannot read wrk output:\n${stdout}\n${stderr}`);
  const cpu = (Number(t[1]) + Number(t[2])) / Number(t[3]);
  return { tool: "wrk", rps: Number(rps[1]), cpu, p50: null, p99: null, note: "", during };
}

/** The driver or autocannon in a fresh process; it measures its own run (not its start-up). */
async function clientOnce(
  tool: "driver" | "autocannon",
  url: string,
  conns: number,
  secs: number,
  opts: { rate?: number; watchPid?: number } = {},
): Promise<ClientResult> {
  const args = [here("./client.ts"), tool, url, String(conns), String(secs), ...(opts.rate === undefined ? [] : [String(opts.rate)])];
  const cmd = [process.execPath, "--import", "tsx", ...args];
  const { stdout } = await run(opts.rate === undefined ? pinned(cmd) : cmd, (secs + 20) * 1000, {
    BENCH_WATCH_PID: String(opts.watchPid ?? ""),
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) as string) as ClientResult;
}

interface Round extends ClientResult {
  /** cores HAProxy used during the run */
  haproxy: number;
  /** cores every other process on the machine used during the run */
  others: number;
}

function round(r: ClientResult): Round {
  const d = r.during ?? { machine: 0, watched: 0 };
  return { ...r, haproxy: d.watched, others: Math.max(0, d.machine - d.watched - r.cpu) };
}

// ---------- main ----------

async function main(): Promise<void> {
  const print = (s = "") => process.stdout.write(`${s}\n`);
  const la = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(" ");
  print(`load bench — ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), node ${process.version}, load average ${la()}`);
  print();

  // (a)
  const rows: StallRow[] = [];
  for (const rate of [200, 2000]) {
    log(`(a) stall at ${rate} req/s: driver`);
    rows.push(await stallDriver(rate));
    for (const c of [20, 500]) {
      log(`(a) stall at ${rate} req/s: autocannon, ${c} connections`);
      rows.push(await stallAutocannon(rate, c));
    }
  }
  print(
    `(a) share of planned arrivals sent during a ${STALL_MS / 1000} s stall of the target (child process; counted at the server; goal ≥ 99 %)`,
  );
  for (const r of rows)
    print(
      `    ${String(r.rate).padStart(5)} req/s  ${r.who.padEnd(33)} ${pct(r.held / r.planned).padStart(8)}  (${int(r.held)}/${int(r.planned)})  ${r.note}`,
    );
  print();

  // (b)
  log("(b) starting HAProxy");
  const { url, image, pid } = await startHaproxy();
  const rounds: Record<"wrk" | "driver" | "autocannon", Round[]> = { wrk: [], driver: [], autocannon: [] };
  const tools = ["wrk", "driver", "autocannon"] as const;
  for (let i = 0; i < TP_ROUNDS; i++) {
    // alternate the order so a drifting background load does not favour one tool
    for (const tool of i % 2 === 0 ? tools : [...tools].reverse()) {
      log(`(b) round ${i + 1}/${TP_ROUNDS}: ${tool}`);
      rounds[tool].push(round(tool === "wrk" ? await wrkOnce(url, pid) : await clientOnce(tool, url, CONNS, TP_S, { watchPid: pid })));
    }
  }
  await removeContainer();
  const w = rounds.wrk.map((r) => r.rps);
  const ratios = (tool: "driver" | "autocannon") => rounds[tool].map((r, i) => r.rps / (w[i] as number));
  print(
    `(b) max requests/s against HAProxy answering directly (${image}, nbthread 1, host network, 127.0.0.1)${PIN ? "; HAProxy pinned to CPU 1, each client to CPU 0" : ""}`,
  );
  print(`    ${CONNS} connections, ${TP_S} s runs, ${TP_ROUNDS} interleaved rounds; medians (goal driver/wrk ≥ 0.9)`);
  const line = (label: string, tool: "wrk" | "driver" | "autocannon") => {
    const rs = rounds[tool];
    const rps = median(rs.map((r) => r.rps));
    const ratio = tool === "wrk" ? "      " : `${median(ratios(tool)).toFixed(2)}×`.padStart(6);
    const cpuPerReq = median(rs.map((r) => (r.cpu / r.rps) * 1e6));
    print(
      `    ${label.padEnd(36)} ${int(rps).padStart(7)} req/s  ${ratio} wrk   client CPU ${median(rs.map((r) => r.cpu)).toFixed(2)} cores, ${cpuPerReq.toFixed(1)} µs/req`,
    );
  };
  line(`wrk -t1 -c${CONNS}`, "wrk");
  line(`cascade driver, max mode (cap ${CONNS})`, "driver");
  line(`autocannon -c ${CONNS}`, "autocannon");
  print("    per round (req/s; ratio to that round's wrk; HAProxy CPU / other processes' CPU in cores during the run):");
  for (let i = 0; i < TP_ROUNDS; i++) {
    const cell = (tool: "wrk" | "driver" | "autocannon") => {
      const r = rounds[tool][i] as Round;
      const ratio = tool === "wrk" ? "" : ` ${(r.rps / (w[i] as number)).toFixed(2)}×`;
      return `${tool} ${int(r.rps)}${ratio} (${r.haproxy.toFixed(2)}/${r.others.toFixed(2)})`;
    };
    print(`      ${i + 1}: ${tools.map(cell).join("   ")}`);
  }
  print(
    `    driver max mode = its open-model path offered 1,000,000 req/s with a cap of ${CONNS} connections; last run: ${rounds.driver.at(-1)?.note}`,
  );
  print();

  // (c)
  const cpuRow = async (tool: "driver" | "autocannon", conns: number) => {
    const target = await startTarget();
    try {
      const r = await clientOnce(tool, target.url, conns, CPU_S, { rate: CPU_RATE });
      return { r, burst: await target.report() };
    } finally {
      target.stop();
    }
  };
  log(`(c) CPU at ${CPU_RATE} req/s: driver`);
  const cd = await cpuRow("driver", 100);
  log(`(c) CPU at ${CPU_RATE} req/s: autocannon`);
  const ca = await cpuRow("autocannon", 20);
  print(
    `(c) CPU of the load process at ${int(CPU_RATE)} req/s for ${CPU_S} s against a trivial loopback server (child process), % of one core`,
  );
  const cpuLine = (label: string, x: typeof cd) =>
    print(
      `    ${label.padEnd(30)} ${pct(x.r.cpu).padStart(7)}   ${int(x.r.rps)} 2xx/s; most requests in any 10 ms at the server ${x.burst.maxPer10ms} (paced: ${CPU_RATE / 100}); p50 ${x.r.p50} ms, p99 ${x.r.p99} ms; ${x.r.note}`,
    );
  cpuLine("cascade driver (cap 100)", cd);
  cpuLine("autocannon, overallRate, 20 c", ca);
  print();
  const share = (who: string, rate: number) => {
    const r = rows.find((x) => x.rate === rate && x.who.startsWith(who)) as StallRow;
    return pct(r.held / r.planned);
  };
  const ac = (rate: number) => `${share("autocannon, 20 ", rate)} / ${share("autocannon, 500 ", rate)}`;
  print("summary (driver, with plain autocannon in brackets):");
  print(`  (a) sent during the stall: ${share("cascade", 200)} at 200 req/s [${ac(200)} with 20 / 500 connections],`);
  print(`      ${share("cascade", 2000)} at 2,000 req/s [${ac(2000)}]`);
  print(`  (b) max req/s against HAProxy: ${median(ratios("driver")).toFixed(2)}× wrk [${median(ratios("autocannon")).toFixed(2)}× wrk]`);
  print(`  (c) CPU at ${int(CPU_RATE)} req/s: ${pct(cd.r.cpu)} of one core [${pct(ca.r.cpu)}, unpaced bursts]`);
  print(`load average at the end ${la()}`);
}

const cleanup = async () => {
  for (const c of children) c.kill();
  await removeContainer();
};
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (e) {
  process.exitCode = 1;
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
} finally {
  await cleanup();
}
