// Benchmark of the reference app, as the image runs it (the esbuild bundle under plain node):
// (1) requests/s of the cache-hit endpoint GET /hit at 50 connections for 5 s, per concurrency
//     model, against a real memcached (Debian's, started here on a free loopback port) or, when
//     none is installed, a minimal in-process fake; no Postgres: the one key is pre-filled.
// (2) memory per 100 prefork workers: idle RSS with 1,200 workers (each with its own memcached
//     connection) minus RSS with none (the async model), / 12.
// Load goes to 127.0.0.1 only and every run is bounded in time. Run: npx tsx bench/app.ts
// The load generator (autocannon) shares the machine's cores with the app: numbers are relative.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import memjs from "memjs";
import { bundleApp } from "../src/app/build.js";
import { fakeMemcached } from "../test/support/fake-memcached.js";

const CONNECTIONS = 50;
const DURATION_S = 5;
const WORKERS = 1200;
const PAYLOAD = "item-0-cfcd208495d565ef66e7dff9f98764da";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface Cache {
  addr: string;
  what: string;
  stop(): Promise<void>;
}

/** Debian's memcached on a free port, if installed. */
async function realMemcached(): Promise<Cache | undefined> {
  const version = spawnSync("memcached", ["-V"], { encoding: "utf8" });
  if (version.error || version.status !== 0) return undefined;
  const port = await freePort();
  const args = ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", "-c", String(WORKERS + 200)];
  if (process.getuid?.() === 0) args.push("-u", "nobody"); // memcached refuses to run as root
  const child = spawn("memcached", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const addr = `127.0.0.1:${port}`;
  const client = memjs.Client.create(addr, { retries: 0, timeout: 0.5, logger: { log: () => {} } });
  try {
    for (let i = 0; ; i++) {
      try {
        await client.set("item:0", PAYLOAD, { expires: 0 });
        break;
      } catch (e) {
        if (child.exitCode !== null || i > 50) throw new Error(`memcached did not start: ${stderr || String(e)}`);
        await sleep(100);
      }
    }
  } finally {
    client.close();
  }
  return {
    addr,
    what: `real ${version.stdout.trim()} (pid ${child.pid})`,
    stop: () => stopChild(child),
  };
}

/** The tests' fake memcached answering every get with the item (fallback). */
async function fakeCache(): Promise<Cache> {
  const fake = await fakeMemcached({ hit: PAYLOAD });
  return { addr: fake.addr, what: "in-process fake (memcached not installed)", stop: fake.close };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

interface App {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

async function startApp(bundle: string, cacheAddr: string, settings: object): Promise<App> {
  const child = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", CACHE_ADDR: cacheAddr, CASCADE_APP_CONFIG: JSON.stringify(settings) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not listen in 15 s: ${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /cascade-app listening on :(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`app exited (${code}): ${out}`)));
  });
  return { child, base: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

/** Values of the named series, from one scrape. */
async function metrics(app: App, ...names: string[]): Promise<number[]> {
  const lines = (await (await fetch(`${app.base}/metrics`)).text()).split("\n");
  return names.map((name) => {
    const line = lines.find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(" ")[1]) : Number.NaN;
  });
}

/** Waits until every worker has its cache connection (bounded). */
async function connected(app: App, workers: number): Promise<void> {
  const end = Date.now() + 15_000;
  for (;;) {
    const [opened = 0, without = 0] = await metrics(app, "app_cache_connections_total", "app_workers_without_cache");
    if (opened >= workers && without === 0) return;
    if (Date.now() > end) throw new Error("workers did not all connect to memcached in 15 s");
    await sleep(200);
  }
}

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

async function throughput(bundle: string, cache: Cache, label: string, settings: object, workers: number): Promise<string> {
  const app = await startApp(bundle, cache.addr, settings);
  try {
    await connected(app, workers);
    const warm = await fetch(`${app.base}/hit`);
    if (warm.status !== 200) throw new Error(`/hit answered ${warm.status}: ${await warm.text()}`);
    await autocannon({ url: `${app.base}/hit`, connections: CONNECTIONS, duration: 1 }); // warm-up
    const r = await autocannon({ url: `${app.base}/hit`, connections: CONNECTIONS, duration: DURATION_S });
    await sleep(200); // requests autocannon left in flight
    const [hits = 0, total = 0] = await metrics(app, "app_cache_hits_total", 'app_requests_total{status="200"}');
    return (
      `  ${label.padEnd(26)} ${String(Math.round(r.requests.average)).padStart(7)} req/s` +
      `   p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms   non-2xx ${r.non2xx}  errors ${r.errors}` +
      `   cache hits ${((100 * hits) / total).toFixed(1)} %`
    );
  } finally {
    await app.stop();
  }
}

/** Idle RSS of an app once its workers are connected and it has settled. */
async function idleRss(bundle: string, cache: Cache, settings: object, workers: number): Promise<number> {
  const app = await startApp(bundle, cache.addr, settings);
  try {
    await connected(app, workers);
    await fetch(`${app.base}/hit`);
    await sleep(2000);
    return rssOf(app.child.pid ?? 0);
  } finally {
    await app.stop();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cascade-bench-app-"));
  const bundle = join(dir, "app.js");
  let cache: Cache | undefined;
  try {
    await bundleApp(bundle);
    cache = (await realMemcached()) ?? (await fakeCache());
    console.log(`cascade-app bench: node ${process.version} (bundle), ${availableParallelism()} CPUs, memcached: ${cache.what}`);
    console.log(`(1) GET /hit (cache hit, no database), ${CONNECTIONS} connections, ${DURATION_S} s, autocannon on the same machine:`);
    console.log(await throughput(bundle, cache, "async, pooled x4", {}, 4));
    console.log(await throughput(bundle, cache, "prefork 8, per-worker", { model: "prefork", workers: 8, cacheClient: "per-worker" }, 8));
    console.log(
      await throughput(
        bundle,
        cache,
        `prefork ${WORKERS}, per-worker`,
        { model: "prefork", workers: WORKERS, cacheClient: "per-worker" },
        WORKERS,
      ),
    );
    console.log(await throughput(bundle, cache, "async, per-request (churn)", { cacheClient: "per-request" }, 0));

    console.log(`(2) memory, idle RSS of one serving process (each worker with its own memcached connection):`);
    const none = await idleRss(bundle, cache, { cachePoolSize: 1 }, 1);
    const many = await idleRss(bundle, cache, { model: "prefork", workers: WORKERS, cacheClient: "per-worker" }, WORKERS);
    const row = (label: string, bytes: number) => console.log(`  ${label.padEnd(40)} ${mib(bytes).padStart(7)} MiB`);
    row("0 workers (async, 1 pooled connection)", none);
    row(`${WORKERS} prefork workers, per-worker`, many);
    row("per 100 workers", (many - none) / (WORKERS / 100));
  } finally {
    await cache?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:app failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
