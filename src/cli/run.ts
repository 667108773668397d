// cascade run: the whole pipeline, with Ctrl-C / SIGTERM / crashes turned into a clean teardown.
import { ScenarioInvalid, loadScenario } from "../scenario/load.js";
import { resolveSource } from "../images/source.js";
import { EngineUnavailable, pingEngine } from "../runtime/docker/client.js";
import { runScenario } from "../run/run.js";
import { formatSummary } from "../report/summary.js";
import { EXIT } from "./exit.js";
import type { Analysis } from "../analyze/analyze.js";
import type { Scenario } from "../scenario/schema.js";

export async function runCommand(file: string, o: { images?: string; out?: string }): Promise<number> {
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
  try {
    await pingEngine();
  } catch (e) {
    if (e instanceof EngineUnavailable) {
      process.stderr.write(`${e.message}\nStart the engine (see \`cascade doctor\`) and try again.\n`);
      return EXIT.infrastructure;
    }
    throw e;
  }
  const { source, from } = resolveSource(o.images);
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals === 1) process.stderr.write(`\n${sig}: stopping the run, reverting faults and removing its containers…\n`);
    else process.stderr.write(`${sig}: teardown is in progress, it will finish in a few seconds\n`);
    ac.abort(new Error(sig));
  };
  const onCrash = (e: unknown) => {
    process.stderr.write(`unexpected error: ${(e as Error)?.stack ?? e}\ntearing down…\n`);
    ac.abort(e);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  log(`scenario ${loaded.scenario.name} (images: ${source}, from ${from})`);
  const result = await runScenario(loaded.scenario, loaded.source, {
    source,
    progress: log,
    signal: ac.signal,
    ...(o.out ? { outDir: o.out } : {}),
  });
  process.stdout.write(`\n${formatSummary(result)}\n`);
  if (result.status === "interrupted") return EXIT.interrupted;
  if (result.status === "error" || !result.teardown) return EXIT.infrastructure;
  return gateExit(result.analysis, loaded.scenario);
}

/** The CI gate: an unmet expectation first; then the SLO, unless the scenario expects the cascade
 * that breaks it (a naive variant rehearsing an outage is supposed to miss its SLO). */
export function gateExit(a: Analysis | undefined, scenario: Scenario): number {
  if (!a) return EXIT.runFailed;
  if (a.verdict === "setup did not hold") return EXIT.setupDidNotHold;
  if (!a.expectations.pass) return EXIT.expectationFailed;
  if (!a.slo.pass && scenario.expect?.cascade !== true) return EXIT.sloFailed;
  return EXIT.ok;
}
