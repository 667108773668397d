// cascade validate: every problem of every file, with its position; exit 2 if any.
import { ScenarioInvalid, loadScenario } from "../scenario/load.js";
import { EXIT } from "./exit.js";

export async function validateCommand(files: string[]): Promise<number> {
  let bad = 0;
  for (const f of files) {
    try {
      const { scenario } = await loadScenario(f);
      process.stdout.write(`${f}: ok (${Object.keys(scenario.services).length} services, ${scenario.faults.length} faults)\n`);
    } catch (e) {
      if (!(e instanceof ScenarioInvalid)) throw e;
      bad++;
      process.stderr.write(`${e.message}\n${f}: ${e.issues.length} problem(s)\n`);
    }
  }
  return bad ? EXIT.invalidScenario : EXIT.ok;
}
