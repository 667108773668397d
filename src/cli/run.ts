// cascade run: the whole pipeline, with Ctrl-C / SIGTERM / crashes turned into a clean teardown.
import { ScenarioInvalid, loadScenario } from "../scenario/load.js";
import { resolveSource } from "../images/source.js";
import { EngineUnavailable, pingEngine } from "../runtime/docker/client.js";
import { runScenario } from "../run/run.js";
import { formatSummary } from "../report/summary.js";
import { EXIT } from "./exit.js";
import { gateOfRun } from "../analyze/gate.js";
import { githubLines } from "./analyze.js";
import { type OutputFormat, githubAnnotation } from "./format.js";

export async function runCommand(file: string, o: { images?: string; out?: string; format?: OutputFormat }): Promise<number> {
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
    fallbackOffline: from === "default",
    progress: log,
    signal: ac.signal,
    ...(o.out ? { outDir: o.out } : {}),
  });
  const gate = gateOfRun(result, loaded.scenario);
  if (o.format === "json") {
    process.stdout.write(`${JSON.stringify({ ...result, gate }, null, 2)}\n`);
    return gate.exit;
  }
  process.stdout.write(`\n${formatSummary(result)}\n${gate.line}\n`);
  if (o.format === "github")
    process.stdout.write(
      `${(result.analysis ? githubLines(loaded.scenario.name, result.analysis, gate) : [githubAnnotation("error", `cascade ${loaded.scenario.name}: gate ${gate.label}`, gate.line)]).join("\n")}\n`,
    );
  return gate.exit;
}
