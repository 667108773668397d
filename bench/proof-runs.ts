// `npm run proof:runs -- [--kills 10] [--cycles 100] [--only two|kills|cycles] [--engine]` — the proofs that runs never leak and never
// take each other's containers, on this engine, printed as figures:
//  1. two harnesses at once, each in its own PID namespace (unshare), same hostname: both complete
//     and neither loses a container;
//  2. SIGKILL of the harness at N random points of a run: how long until the run's reaper has
//     removed every container and network, with no command run;
//  3. N up/down cycles of a small topology: objects left, and the engine's memory before and after;
//  4. with --engine only (it stops this machine's Docker engine): the engine stopped mid-run — the
//     harness's exit code, time and error line — then started again as scripts/engine.sh does, and
//     how long until the run's reaper, restarted by the engine, has removed the run.
// A proof, not a test: it takes minutes. test/docker/lease.test.ts checks the machinery in CI.
import { execSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../src/paths.js";
import { resolveSource } from "../src/images/source.js";
import { docker } from "../src/runtime/docker/client.js";
import { LABEL } from "../src/runtime/docker/labels.js";
import { DockerRuntime } from "../src/runtime/docker/runtime.js";
import { bringUp } from "../src/run/up.js";
import { parseScenario } from "../src/scenario/load.js";
import { planTopology } from "../src/topology/plan.js";
import { objectsOfRun } from "../test/docker/helpers.js";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "10" },
    cycles: { type: "string", default: "100" },
    engine: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const FIXTURE = join(ROOT, "test/fixtures/scenarios/docker-foundation.yaml");
const say = (s: string) => process.stdout.write(`${s}\n`);

/** `cascade run` as a child, optionally in its own PID namespace; resolves with its stderr and exit code. */
function harness(args: string[], ownPidNamespace: boolean, onLine?: (l: string, kill: () => void) => void) {
  const cmd = [process.execPath, join(ROOT, "bin/cascade.js"), ...args];
  const child = ownPidNamespace
    ? spawn("unshare", ["--pid", "--fork", "--kill-child=SIGKILL", ...cmd], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    : spawn(cmd[0] as string, cmd.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => {
    const text = b.toString();
    err += text;
    for (const l of text.split("\n")) if (l) onLine?.(l, () => child.kill("SIGKILL"));
  });
  child.stdout?.resume();
  return new Promise<{ code: number | null; err: string; run: string | undefined }>((resolve) =>
    child.on("close", (code) => resolve({ code, err, run: /topology up: run ([0-9a-f]+)/.exec(err)?.[1] })),
  );
}

async function twoAtOnce(): Promise<void> {
  say("1. two harnesses at once, each in its own PID namespace, same hostname");
  const out = mkdtempSync(join(tmpdir(), "cascade-proof-"));
  const t0 = Date.now();
  const [a, b] = await Promise.all([0, 1].map(() => harness(["run", FIXTURE, "--out", out], true)));
  for (const [name, r] of [
    ["A", a],
    ["B", b],
  ] as const) {
    const dir = join(out, "docker-foundation");
    const folder = readdirSync(dir).find((f) => f.endsWith(r?.run ?? "?"));
    const result = folder
      ? (JSON.parse(readFileSync(join(dir, folder, "result.json"), "utf8")) as {
          status: string;
          teardown?: { containers: number };
          leftovers_removed: number;
        })
      : undefined;
    say(
      `   ${name}: run ${r?.run}, exit ${r?.code}, status ${result?.status}, teardown removed ${result?.teardown?.containers} containers, removed as leftovers of others: ${result?.leftovers_removed}, left now: ${JSON.stringify(await objectsOfRun(r?.run ?? "?"))}`,
    );
  }
  say(`   both in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

async function kills(n: number): Promise<void> {
  say(`2. SIGKILL of the harness at ${n} random points of a run (from "topology up" to 40 s of load)`);
  const out = mkdtempSync(join(tmpdir(), "cascade-proof-"));
  const gone: number[] = [];
  for (let i = 0; i < n; i++) {
    const delay = Math.floor(Math.random() * 45_000);
    let upAt = 0;
    let timer: NodeJS.Timeout | undefined;
    const r = await harness(["run", FIXTURE, "--out", out], false, (l, kill) => {
      if (!upAt && /topology up: run/.test(l)) {
        upAt = Date.now();
        timer = setTimeout(kill, delay);
      }
    });
    clearTimeout(timer);
    const t0 = Date.now();
    let left = await objectsOfRun(r.run ?? "?");
    while ((left.containers || left.networks) && Date.now() - t0 < 30_000) {
      await new Promise((res) => setTimeout(res, 200));
      left = await objectsOfRun(r.run ?? "?");
    }
    const ms = Date.now() - t0;
    gone.push(ms);
    say(
      `   kill ${i + 1}: ${(delay / 1000).toFixed(1)} s after topology up, exit ${r.code}; run ${r.run}: ${JSON.stringify(left)} left after ${ms} ms`,
    );
  }
  say(`   removed by the reaper in ${Math.min(...gone)}–${Math.max(...gone)} ms (max), no command run`);
}

async function cycles(n: number): Promise<void> {
  say(`3. ${n} up/down cycles of a small topology (memcached behind Toxiproxy, an app)`);
  const scenario = parseScenario(
    "name: cycles\nservices:\n  app: { kind: app, ready: { http: /metrics } }\n  cache: { kind: memcached }\nlinks: [{ from: app, to: cache }]\nload: { target: app, phases: [{ duration: 1s, rate: 1 }] }\n",
    "cycles.yaml",
  );
  // The engine's resident memory, read from /proc (this machine runs dockerd locally).
  const mem = () => {
    const pid = execSync("pidof dockerd || true").toString().trim().split(" ")[0];
    return pid ? Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024 : 0;
  };
  const before = mem();
  const t0 = Date.now();
  let leftovers = 0;
  for (let i = 0; i < n; i++) {
    const runtime = new DockerRuntime(randomBytes(4).toString("hex"));
    try {
      await bringUp(planTopology(scenario), runtime, { source: resolveSource().source, progress: () => {} });
    } finally {
      await runtime.down();
    }
    const left = await objectsOfRun(runtime.runId);
    leftovers += left.containers + left.networks;
    if ((i + 1) % 10 === 0) say(`   ${i + 1}/${n}: ${leftovers} objects left so far, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  const after = mem();
  const managed = (await docker().listContainers({ all: true, filters: { label: [LABEL.managed] } })).length;
  say(
    `   ${n} cycles in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${leftovers} objects left, ${managed} managed containers on the engine; dockerd RSS ${(before / 2 ** 20).toFixed(0)} MiB before, ${(after / 2 ** 20).toFixed(0)} MiB after`,
  );
}

async function engineStopped(): Promise<void> {
  say("4. the Docker engine stopped mid-run (SIGTERM to dockerd at the first progress line, 5 s into the load), then started again");
  const out = mkdtempSync(join(tmpdir(), "cascade-proof-"));
  const pid = Number(readFileSync("/var/run/docker.pid", "utf8").trim());
  let stoppedAt = 0;
  const r = await harness(["run", FIXTURE, "--out", out], false, (l) => {
    if (!stoppedAt && /^\s+\d+ s\s+sent/.test(l)) {
      stoppedAt = Date.now();
      process.kill(pid, "SIGTERM");
    }
  });
  const exitedMs = Date.now() - stoppedAt;
  const dir = join(out, "docker-foundation");
  const folder = readdirSync(dir).find((f) => f.endsWith(r.run ?? "?"));
  const result = folder
    ? (JSON.parse(readFileSync(join(dir, folder, "result.json"), "utf8")) as { status: string; error?: string })
    : undefined;
  say(
    `   harness exited ${exitedMs} ms after the engine was stopped, code ${r.code}; result.json: status ${result?.status}, error "${result?.error}"`,
  );
  await waitFor(() => !existsSync(`/proc/${pid}`), 60_000, "dockerd to exit");
  const t0 = Date.now();
  execSync(`bash ${join(ROOT, "scripts/engine.sh")}`, { stdio: "ignore" });
  say(`   engine answering again after ${Date.now() - t0} ms`);
  let left = await objectsOfRun(r.run ?? "?");
  const t1 = Date.now();
  while ((left.containers || left.networks) && Date.now() - t1 < 60_000) {
    await new Promise((res) => setTimeout(res, 200));
    left = await objectsOfRun(r.run ?? "?");
  }
  say(`   run ${r.run}: ${JSON.stringify(left)} left ${Date.now() - t1} ms after the engine answered, no command run`);
}

async function waitFor(ok: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

const steps = { two: twoAtOnce, kills: () => kills(Number(values.kills)), cycles: () => cycles(Number(values.cycles)) };
for (const [name, step] of Object.entries(steps)) if (!values.only || values.only === name) await step();
if (values.engine) await engineStopped();
