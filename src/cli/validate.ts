// cascade validate: every problem of every file, with its position; exit 2 if any.
import { ScenarioInvalid, loadScenario } from "../scenario/load.js";
import type { ScenarioIssue } from "../scenario/issues.js";
import { EXIT } from "./exit.js";
import { type OutputFormat, githubAnnotation } from "./format.js";

interface Checked {
  file: string;
  ok: boolean;
  services?: number;
  faults?: number;
  problems: ScenarioIssue[];
}

export async function validateCommand(files: string[], o: { format?: OutputFormat } = {}): Promise<number> {
  const checked: Checked[] = [];
  for (const f of files) {
    try {
      const { scenario } = await loadScenario(f);
      checked.push({ file: f, ok: true, services: Object.keys(scenario.services).length, faults: scenario.faults.length, problems: [] });
    } catch (e) {
      if (!(e instanceof ScenarioInvalid)) throw e;
      checked.push({ file: f, ok: false, problems: e.issues });
      if (o.format === "text" || o.format === undefined) process.stderr.write(`${e.message}\n${f}: ${e.issues.length} problem(s)\n`);
    }
  }
  const bad = checked.filter((c) => !c.ok).length;
  if (o.format === "json") process.stdout.write(`${JSON.stringify({ ok: bad === 0, files: checked }, null, 2)}\n`);
  else if (o.format === "github")
    for (const c of checked)
      for (const p of c.problems)
        process.stdout.write(
          `${githubAnnotation("error", `cascade validate: ${p.field}`, p.message, { file: p.file, line: p.line, col: p.col })}\n`,
        );
  for (const c of checked)
    if (c.ok && o.format !== "json") process.stdout.write(`${c.file}: ok (${c.services} services, ${c.faults} faults)\n`);
  return bad ? EXIT.invalidScenario : EXIT.ok;
}
