// Cluster mode (processes >= 1): a master that forks serving processes (node:cluster; they share the
// listening port) and, like unicorn's master, replaces one that crashed or whose RSS outgrew
// workerMemoryCapMb — the restart loop of seed 000 and the crash loop of seed 004's bad deploy.
//
// The master serves no HTTP. It keeps the settings in force and hands them to every process it
// forks, so a change made through POST /admin/config outlives the process that received it:
//   child --set--> master (validates, remembers) --apply--> every child --> answer to the asker
// and it answers /metrics for whichever child was asked: the sum of every child's registry, its
// own (restart counter, process metrics) and the counters of the children that died, so totals
// keep growing across restarts (counts a child made after its last snapshot, ≤ 250 ms, are lost).
import cluster, { type Worker } from "node:cluster";
import { readFileSync } from "node:fs";
import { AggregatorRegistry, Registry, collectDefaultMetrics } from "prom-client";
import { patchSettings } from "./admin.js";
import type { RunningApp, StartOptions } from "./app.js";
import { type AppConfig, type AppSettings, ConfigError, settingsOf } from "./config.js";
import { type RestartReason, createMasterMetrics } from "./metrics.js";
import type { LiveSettings } from "./settings.js";

type MetricJson = { name: string; type: string } & Record<string, unknown>;

/** Messages between master and children, tagged so they never mix with prom-client's own. */
type ToMaster =
  | { t: "cascade:ready" }
  | { t: "cascade:set"; id: number; raw: unknown }
  | { t: "cascade:metrics"; id: number }
  | { t: "cascade:snapshot"; id: number; metrics: MetricJson[] };

type ToChild =
  | { t: "cascade:apply"; settings: AppSettings }
  | { t: "cascade:set-result"; id: number; settings?: AppSettings; error?: string }
  | { t: "cascade:metrics-result"; id: number; contentType?: string; body?: string; error?: string }
  | { t: "cascade:snapshot-req"; id: number }
  | { t: "cascade:rss"; bytes: number };

function isMessage<T extends { t: string }>(m: unknown): m is T {
  return (
    typeof m === "object" && m !== null && typeof (m as { t?: unknown }).t === "string" && (m as { t: string }).t.startsWith("cascade:")
  );
}

const MEMORY_CHECK_MS = 250;
const SNAPSHOT_MS = 250;
const IPC_TIMEOUT_MS = 2000;
const SCRAPE_WAIT_MS = 300;
/** How long a process asked to stop (memory cap, shutdown) may take before it is killed. */
const STOP_GRACE_MS = 5000;

/** VmRSS of a process from /proc, in bytes; undefined where /proc cannot tell. */
export function procRss(pid: number, read: (path: string) => string = (p) => readFileSync(p, "utf8")): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(read(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Child {
  worker: Worker;
  pid: number;
  /** Last metrics of this child (refreshed every 250 ms and at each scrape). */
  snapshot: MetricJson[] | undefined;
  /** Why the master is stopping it, if it is. */
  stopping: RestartReason | "shutdown" | undefined;
  rss: number;
  /** Snapshot requests in flight, settled at once if the child exits. */
  waiting: Set<() => void>;
  /** Started up (it said so): only then does it answer snapshot requests. */
  ready: boolean;
  /** Rolling recycle: the child to retire once this one (its replacement) is ready. */
  replaces?: Child;
  /** Rolling recycle: its replacement is already forked, so its exit forks nothing. */
  replaced?: boolean;
}

export function runMaster(config: AppConfig, log: (line: string) => void): void {
  let settings = settingsOf(config);
  const children = new Map<number, Child>();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { restarts } = createMasterMetrics(registry, () => children.size);
  /** Counters and histograms of children that exited, summed. */
  let retired: MetricJson[] = [];
  let retiring: Promise<void> = Promise.resolve();
  let nextId = 0;
  const pending = new Map<number, (m: MetricJson[]) => void>();
  let port: number | undefined;
  let shuttingDown = false;

  const fork = (): Child | undefined => {
    if (shuttingDown) return undefined;
    // PORT pinned once known: with PORT=0, a process forked after every other one died would
    // otherwise listen on a new random port.
    const env: Record<string, string> = { CASCADE_APP_CONFIG: JSON.stringify(settings) };
    if (port !== undefined) env.PORT = String(port);
    const worker = cluster.fork(env);
    const pid = worker.process.pid ?? 0;
    const child: Child = { worker, pid, snapshot: undefined, stopping: undefined, rss: 0, waiting: new Set(), ready: false };
    children.set(worker.id, child);
    return child;
  };

  const send = (child: Child, msg: ToChild): void => {
    if (child.worker.isConnected()) child.worker.send(msg, () => {}); // a dying child may refuse
  };

  /** Asks a child for its metrics; keeps the last snapshot if it does not answer in time. */
  const refresh = (child: Child, timeoutMs: number): Promise<void> =>
    new Promise((resolve) => {
      if (!child.ready || !child.worker.isConnected()) return resolve();
      const id = nextId++;
      const done = (): void => {
        clearTimeout(timer);
        pending.delete(id);
        child.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      pending.set(id, (metrics) => {
        child.snapshot = metrics;
        done();
      });
      child.waiting.add(done);
      send(child, { t: "cascade:snapshot-req", id });
    });

  const aggregate = async (): Promise<{ contentType: string; body: string }> => {
    // Short: the child that asked may not live long (a crash loop); a slow one counts as of its
    // last snapshot (≤ 250 ms old).
    await Promise.all([...children.values()].map((c) => refresh(c, SCRAPE_WAIT_MS)));
    await retiring;
    const all: MetricJson[][] = [retired, (await registry.getMetricsAsJSON()) as unknown as MetricJson[]];
    for (const c of children.values()) if (c.snapshot) all.push(c.snapshot);
    const agg = AggregatorRegistry.aggregate(all);
    return { contentType: agg.contentType, body: await agg.metrics() };
  };

  const onMessage = (worker: Worker, msg: unknown): void => {
    if (!isMessage<ToMaster>(msg)) return;
    const child = children.get(worker.id);
    if (!child) return;
    switch (msg.t) {
      case "cascade:ready":
        child.ready = true;
        if (child.replaces) stop(child.replaces, "memory_cap");
        send(child, { t: "cascade:apply", settings }); // in case settings changed while it started
        break;
      case "cascade:snapshot":
        pending.get(msg.id)?.(msg.metrics);
        break;
      case "cascade:set": {
        try {
          settings = patchSettings(settings, msg.raw);
        } catch (e) {
          send(child, { t: "cascade:set-result", id: msg.id, error: e instanceof Error ? e.message : String(e) });
          break;
        }
        log(`cascade-app master: settings changed: ${JSON.stringify(msg.raw)}`);
        // IPC to one child is ordered: the asker applies before it reads the result.
        for (const c of children.values()) send(c, { t: "cascade:apply", settings });
        send(child, { t: "cascade:set-result", id: msg.id, settings });
        break;
      }
      case "cascade:metrics":
        aggregate().then(
          (r) => send(child, { t: "cascade:metrics-result", id: msg.id, ...r }),
          (e: unknown) => send(child, { t: "cascade:metrics-result", id: msg.id, error: String(e) }),
        );
        break;
    }
  };

  const stop = (child: Child, why: RestartReason | "shutdown"): void => {
    if (child.stopping) return;
    child.stopping = why;
    child.worker.process.kill("SIGTERM");
    setTimeout(() => {
      if (child.worker.process.exitCode === null && child.worker.process.signalCode === null) child.worker.process.kill("SIGKILL");
    }, STOP_GRACE_MS).unref();
  };

  const checkMemory = (): void => {
    let total = procRss(process.pid) ?? process.memoryUsage.rss();
    const capBytes = settings.workerMemoryCapMb * 1024 * 1024;
    for (const child of children.values()) {
      child.rss = procRss(child.pid) ?? 0;
      total += child.rss;
      if (capBytes > 0 && child.rss > capBytes && !child.stopping && !child.replaced) {
        const rolling = settings.workerRecycle === "rolling";
        // Rolling: one process at a time, its replacement serving before it is retired.
        if (rolling && [...children.values()].some((c) => c.replaced || c.replaces)) continue;
        log(
          `cascade-app master: process ${child.pid} RSS ${Math.round(child.rss / 2 ** 20)} MiB > cap ${settings.workerMemoryCapMb} MiB, replacing it${rolling ? " (rolling)" : ""}`,
        );
        if (!rolling) stop(child, "memory_cap");
        else {
          const next = fork();
          if (next) {
            next.replaces = child;
            child.replaced = true;
          }
        }
      }
    }
    // Shedding compares the RSS of the whole container (every process) with its limit.
    if (settings.shedMemoryFraction > 0) for (const c of children.values()) send(c, { t: "cascade:rss", bytes: total });
  };

  cluster.on("message", onMessage);
  cluster.on("listening", (_worker, address) => {
    if (port !== undefined) return;
    port = address.port;
    log(`cascade-app listening on :${address.port} (master ${process.pid}, ${config.processes} processes)`);
  });
  cluster.on("exit", (worker, code, signal) => {
    const child = children.get(worker.id);
    children.delete(worker.id);
    for (const done of [...(child?.waiting ?? [])]) done();
    if (child?.snapshot) {
      const counted = child.snapshot.filter((m) => m.type === "counter" || m.type === "histogram");
      retiring = retiring.then(async () => {
        retired = (await AggregatorRegistry.aggregate([retired, counted]).getMetricsAsJSON()) as unknown as MetricJson[];
      });
    }
    if (shuttingDown) {
      if (children.size === 0) process.exit(0);
      return;
    }
    const reason: RestartReason = child?.stopping === "memory_cap" ? "memory_cap" : "crash";
    restarts.inc({ reason });
    for (const c of children.values()) if (c.replaces === child) c.replaces = undefined;
    if (child?.replaced && reason === "memory_cap") {
      log(`cascade-app master: process ${child.pid} retired (rolling recycle)`);
      return;
    }
    log(
      `cascade-app master: process ${child?.pid ?? "?"} exited (${signal ?? `code ${code}`}, ${reason}); ` +
        `replacing it in ${settings.restartDelayMs} ms`,
    );
    setTimeout(fork, settings.restartDelayMs);
  });

  const shutdown = (why: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`cascade-app master: ${why}, stopping ${children.size} processes`);
    if (children.size === 0) process.exit(0);
    for (const c of children.values()) stop(c, "shutdown");
    setTimeout(() => process.exit(0), STOP_GRACE_MS + 1000).unref();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));

  setInterval(checkMemory, MEMORY_CHECK_MS).unref();
  setInterval(() => {
    for (const c of children.values()) if (c.waiting.size === 0) void refresh(c, IPC_TIMEOUT_MS);
  }, SNAPSHOT_MS).unref();
  for (let i = 0; i < config.processes; i++) fork();
}

/** The serving side of cluster mode: forwards admin changes and /metrics to the master. */
export class ClusterChild {
  private app: RunningApp | undefined;
  private early: AppSettings | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, (m: ToChild) => void>();
  private clusterRss: { bytes: number; at: number } | undefined;

  constructor() {
    process.on("message", (m: unknown) => this.onMessage(m));
  }

  /** What startApp needs to act as one process of a cluster. */
  startOptions(): Pick<StartOptions, "applySettings" | "metricsText" | "rss"> {
    return {
      applySettings: async (raw: unknown, live: LiveSettings) => {
        patchSettings(live.current, raw); // answer a bad request here, without a round trip
        const r = await this.request<Extract<ToChild, { t: "cascade:set-result" }>>({ t: "cascade:set", id: 0, raw });
        if (r.error !== undefined || !r.settings) throw new ConfigError(r.error ?? "master gave no settings");
        return r.settings;
      },
      metricsText: async () => {
        const r = await this.request<Extract<ToChild, { t: "cascade:metrics-result" }>>({ t: "cascade:metrics", id: 0 });
        if (r.error !== undefined || r.body === undefined) throw new Error(`metrics from the master: ${r.error ?? "no body"}`);
        return { contentType: r.contentType ?? "text/plain", body: r.body };
      },
      // The master's sum over every process when it is fresh, else this process alone.
      rss: () =>
        this.clusterRss && performance.now() - this.clusterRss.at < 4 * MEMORY_CHECK_MS ? this.clusterRss.bytes : process.memoryUsage.rss(),
    };
  }

  /** The app is up: apply what arrived meanwhile and ask the master for the latest settings. */
  attach(app: RunningApp): void {
    this.app = app;
    if (this.early) app.live.replace(this.early);
    process.send?.({ t: "cascade:ready" } satisfies ToMaster);
  }

  private request<R extends ToChild>(msg: Extract<ToMaster, { id: number }>): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer from the cluster master in ${IPC_TIMEOUT_MS} ms`));
      }, IPC_TIMEOUT_MS);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(m as R);
      });
      process.send?.({ ...msg, id });
    });
  }

  private onMessage(m: unknown): void {
    if (!isMessage<ToChild>(m)) return;
    switch (m.t) {
      case "cascade:apply":
        if (this.app) this.app.live.replace(m.settings);
        else this.early = m.settings;
        break;
      case "cascade:rss":
        this.clusterRss = { bytes: m.bytes, at: performance.now() };
        break;
      case "cascade:snapshot-req":
        if (!this.app) break;
        this.app.metrics.registry
          .getMetricsAsJSON()
          .then((metrics) =>
            process.send?.({ t: "cascade:snapshot", id: m.id, metrics: metrics as unknown as MetricJson[] } satisfies ToMaster),
          );
        break;
      case "cascade:set-result":
      case "cascade:metrics-result":
        this.waiting.get(m.id)?.(m);
        break;
    }
  }
}
