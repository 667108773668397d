// What `run`, `sweep` and `gameday` check before starting anything: the scenario file reads and
// validates (exit 2 with every problem), every ${NAME} it reads from the environment is set
// (exit 64), and the Docker engine answers (exit 3 with what to do).
import { needsNodes } from "../faults/registry.js";
import { EngineUnavailable, pingEngine } from "../runtime/docker/client.js";
import { type Locate, loadScenario, ScenarioInvalid } from "../scenario/load.js";
import { unsetRefs } from "../scenario/secrets.js";
import { EXIT } from "./exit.js";
import { type Cluster, readCluster } from "../runtime/swarm/cluster.js";
import { type DataPath, fieldName } from "../scenario/positions.js";
import type { Scenario } from "../scenario/schema.js";

/** The loaded scenario, or the exit code after printing why it cannot run. */
export async function loadOrExit(file: string): Promise<Awaited<ReturnType<typeof loadScenario>> | number> {
  let loaded: Awaited<ReturnType<typeof loadScenario>>;
  try {
    loaded = await loadScenario(file);
  } catch (e) {
    if (e instanceof ScenarioInvalid) {
      process.stderr.write(`${e.message}\n${e.issues.length} problem(s); nothing was started.\n`);
      return EXIT.invalidScenario;
    }
    throw e;
  }
  const unset = unsetRefs(loaded.scenario, loaded.source);
  if (unset.length) {
    for (const u of unset) process.stderr.write(`${file}:${u.line} ${u.field}: \${${u.name}} is not set in this environment\n`);
    process.stderr.write(`${unset.length} problem(s); nothing was started.\n`);
    return EXIT.usage;
  }
  return loaded;
}

/** undefined when the engine answers, else the exit code after saying so. */
export async function engineOrExit(): Promise<number | undefined> {
  try {
    await pingEngine();
    return undefined;
  } catch (e) {
    if (e instanceof EngineUnavailable) {
      process.stderr.write(`${e.message}\nStart the engine (see \`cascade doctor\`) and try again.\n`);
      return EXIT.infrastructure;
    }
    throw e;
  }
}

export type RuntimeName = "docker" | "swarm";

/** The runtime the run goes to, or the exit code after one line per problem: a node fault on one
 * engine, a swarm with no cluster file, a placement or node fault naming a node the swarm lacks. */
export function runtimeOrExit(
  file: string,
  loaded: { scenario: Scenario; locate: Locate },
  name: string | undefined,
): { name: RuntimeName; cluster?: Cluster } | number {
  if (name !== undefined && name !== "docker" && name !== "swarm") {
    process.stderr.write(`--runtime: "${name}" is not a runtime (docker or swarm)\n`);
    return EXIT.usage;
  }
  const at = (path: DataPath) => `${file}:${loaded.locate(path).line} ${fieldName(path)}`;
  const { scenario } = loaded;
  const nodeFaults = scenario.faults.flatMap((f, i) => (needsNodes(f.kind) ? [{ f, i }] : []));
  if (name !== "swarm") {
    const first = nodeFaults[0];
    if (!first) return { name: "docker" };
    process.stderr.write(
      `${at(["faults", first.i, "kind"])}: a ${first.f.kind} fault needs --runtime swarm (one engine has no nodes); nothing was started.\n`,
    );
    return EXIT.invalidScenario;
  }
  let cluster: Cluster;
  try {
    cluster = readCluster();
  } catch (e) {
    process.stderr.write(
      `${(e as Error).message}\n\`bash scripts/swarm.sh up\` starts the test swarm on this machine; nothing was started.\n`,
    );
    return EXIT.infrastructure;
  }
  const known = (n: string) => cluster.nodes.some((x) => x.name === n || x.hostname === n);
  const problems: string[] = [];
  for (const [svc, s] of Object.entries(scenario.services))
    for (const [j, n] of (s.placement ?? []).entries())
      if (!known(n))
        problems.push(`${at(["services", svc, "placement", ...(s.placement?.length === 1 ? [] : [j])])}: no node ${n} in the swarm`);
  for (const { f, i } of nodeFaults)
    if ("node" in f && !known(f.node)) problems.push(`${at(["faults", i, "node"])}: no node ${f.node} in the swarm`);
  if (problems.length) {
    process.stderr.write(`${problems.join("\n")}\n(nodes: ${cluster.nodes.map((n) => n.name).join(", ")}); nothing was started.\n`);
    return EXIT.invalidScenario;
  }
  return { name: "swarm", cluster };
}

/** After a second Ctrl-C, the teardown's last chance before the process exits anyway. */
export const FORCED_TEARDOWN_MS = 10_000;

/** Ctrl-C, SIGTERM and a closed terminal (SIGHUP) during a run: the first calls `first` (a clean
 * stop), the second `second` and gives the teardown FORCED_TEARDOWN_MS more, the third exits at
 * once; each exit says what may be left. Returns the function that removes the handlers. */
export function stopOnSignals(h: { first(sig: string): void; second(sig: string): void; leftovers(): string }): () => void {
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals === 1) h.first(sig);
    else if (signals === 2) {
      process.stderr.write(`${sig} again: the teardown gets ${FORCED_TEARDOWN_MS / 1000} s more; once more exits at once\n`);
      h.second(sig);
      setTimeout(() => {
        process.stderr.write(`teardown did not finish in ${FORCED_TEARDOWN_MS / 1000} s: exiting; ${h.leftovers()}\n`);
        process.exit(EXIT.interrupted);
      }, FORCED_TEARDOWN_MS).unref();
    } else {
      process.stderr.write(`${sig} a third time: exiting now; ${h.leftovers()}\n`);
      process.exit(EXIT.interrupted);
    }
  };
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
  return () => {
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(s, onSignal);
  };
}

/** The run's progress on stderr, remembering its id (for what a forced exit may leave). */
export function runLog(): { log: (l: string) => void; leftovers: () => string } {
  let runId: string | undefined;
  return {
    log: (l) => {
      runId ??= /topology up: run ([0-9a-f]+)/.exec(l)?.[1];
      process.stderr.write(`${l}\n`);
    },
    leftovers: () =>
      runId ? `containers of run ${runId} may be left: \`cascade down --run ${runId}\` removes them` : "nothing was started yet",
  };
}
