// What `run` and `sweep` check before starting anything: the scenario file reads and validates
// (exit 2 with every problem), and the Docker engine answers (exit 3 with what to do).
import { EngineUnavailable, pingEngine } from "../runtime/docker/client.js";
import { loadScenario, ScenarioInvalid } from "../scenario/load.js";
import { EXIT } from "./exit.js";

/** The loaded scenario, or the exit code after printing why it is invalid. */
export async function loadOrExit(file: string): Promise<Awaited<ReturnType<typeof loadScenario>> | number> {
  try {
    return await loadScenario(file);
  } catch (e) {
    if (e instanceof ScenarioInvalid) {
      process.stderr.write(`${e.message}\n${e.issues.length} problem(s); nothing was started.\n`);
      return EXIT.invalidScenario;
    }
    throw e;
  }
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
