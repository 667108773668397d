// cascade list: recorded runs from the reports folder, or the scenario catalog.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { reportsDir, SCENARIOS_DIR } from "../paths.js";
import type { RunResult } from "../run/run.js";
import { EXIT } from "./exit.js";

export async function listCommand(o: { scenarios?: boolean }): Promise<number> {
  if (o.scenarios) {
    for (const f of readdirSync(SCENARIOS_DIR)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()) {
      const doc = parseDocument(readFileSync(join(SCENARIOS_DIR, f), "utf8")).toJS() as { description?: string } | null;
      const line = (doc?.description ?? "").split("\n")[0];
      process.stdout.write(`${`scenarios/${f}`.padEnd(40)} ${line}\n`);
    }
    return EXIT.ok;
  }
  const root = reportsDir();
  const rows: string[] = [];
  if (existsSync(root)) {
    for (const scen of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const run of readdirSync(join(root, scen.name)).sort()) {
        const dir = join(root, scen.name, run);
        const resFile = join(dir, "result.json");
        if (!existsSync(resFile)) {
          rows.push(`${run}  ${scen.name.padEnd(24)} (no result.json: harness killed?)  ${dir}`);
          continue;
        }
        const r = JSON.parse(readFileSync(resFile, "utf8")) as RunResult;
        const ok = r.totals.success === null ? "-" : `${(r.totals.success * 100).toFixed(1)}%`;
        rows.push(`${run}  ${scen.name.padEnd(24)} ${r.status.padEnd(11)} success ${ok.padStart(6)}  ${dir}`);
      }
    }
  }
  if (rows.length === 0) process.stdout.write(`no runs under ${root}\n`);
  for (const r of rows.sort()) process.stdout.write(`${r}\n`);
  return EXIT.ok;
}
