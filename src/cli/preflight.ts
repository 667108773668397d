// What `run`, `sweep` and `gameday` check before starting anything: the scenario file reads and
// validates (exit 2 with every problem), every ${NAME} it reads from the environment is set
// (exit 64), and the Docker engine answers (exit 3 with what to do).
import { EngineUnavailable, pingEngine } from "../runtime/docker/client.js";
import { loadScenario, ScenarioInvalid } from "../scenario/load.js";
import { unsetRefs } from "../scenario/secrets.js";
import { EXIT } from "./exit.js";

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
