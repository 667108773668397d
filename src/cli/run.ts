// cascade run: the whole pipeline, with Ctrl-C / SIGTERM / crashes turned into a clean teardown.
import { resolveSource } from "../images/source.js";
import { engineOrExit, loadOrExit, runLog, runtimeOrExit, stopOnSignals } from "./preflight.js";
import { RecordUnwritable } from "../observe/record.js";
import { runScenario } from "../run/run.js";
import { formatSummary } from "../report/summary.js";
import { EXIT } from "./exit.js";
import { describePlan } from "../topology/describe.js";
import { planTopology, redactedPlan } from "../topology/plan.js";
import { gateOfRun } from "../analyze/gate.js";
import { githubLines } from "./analyze.js";
import { type OutputFormat, githubAnnotation } from "./format.js";

export async function runCommand(
  file: string,
  o: { images?: string; out?: string; format?: OutputFormat; dryRun?: boolean; runtime?: string },
): Promise<number> {
  const loaded = await loadOrExit(file);
  if (typeof loaded === "number") return loaded;
  const rt = runtimeOrExit(file, loaded, o.runtime);
  if (typeof rt === "number") return rt;
  if (o.dryRun) {
    const plan = planTopology(loaded.scenario);
    if (o.format === "json")
      process.stdout.write(`${JSON.stringify({ scenario: loaded.scenario.name, plan: redactedPlan(plan) }, null, 2)}\n`);
    else process.stdout.write(`${describePlan(loaded.scenario, plan).join("\n")}\n`);
    return EXIT.ok;
  }
  const noEngine = await engineOrExit();
  if (noEngine !== undefined) return noEngine;
  const { source, from } = resolveSource(o.images);
  const ac = new AbortController();
  let crashed = false;
  const { log, leftovers } = runLog();
  // First signal: a clean stop (faults reverted, containers removed, record written).
  stopOnSignals({
    first: (sig) => {
      process.stderr.write(`\n${sig}: stopping the run, reverting faults and removing its containers…\n`);
      ac.abort(new Error(sig));
    },
    second: () => {},
    leftovers,
  });
  const onCrash = (e: unknown) => {
    process.stderr.write(`unexpected error: ${(e as Error)?.stack ?? e}\ntearing down…\n`);
    // Never 0 after a crash, whatever the run goes on to measure.
    crashed = true;
    ac.abort(e);
  };
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  log(`scenario ${loaded.scenario.name} (images: ${source}, from ${from})`);
  let result: Awaited<ReturnType<typeof runScenario>>;
  try {
    result = await runScenario(loaded.scenario, loaded.source, {
      source,
      fallbackOffline: from === "default",
      progress: log,
      signal: ac.signal,
      ...(o.out ? { outDir: o.out } : {}),
      ...(rt.cluster ? { swarm: rt.cluster } : {}),
    });
  } catch (e) {
    if (!(e instanceof RecordUnwritable)) throw e;
    process.stderr.write(
      `${e.message}; ${e.started ? "the run was stopped and torn down; its record is incomplete" : "nothing was started"}\n`,
    );
    return EXIT.infrastructure;
  }
  const gate = gateOfRun(result, loaded.scenario);
  if (o.format === "json") {
    process.stdout.write(`${JSON.stringify({ ...result, gate }, null, 2)}\n`);
    return crashed ? EXIT.unexpected : gate.exit;
  }
  process.stdout.write(`\n${formatSummary(result)}\n${gate.line}\n`);
  if (o.format === "github")
    process.stdout.write(
      `${(result.analysis ? githubLines(loaded.scenario.name, result.analysis, gate) : [githubAnnotation("error", `cascade ${loaded.scenario.name}: gate ${gate.label}`, gate.line)]).join("\n")}\n`,
    );
  return crashed ? EXIT.unexpected : gate.exit;
}
