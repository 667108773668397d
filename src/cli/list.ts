// cascade list: recorded runs from the reports folder, or the scenario catalog.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { reportsDir, SCENARIOS_DIR } from "../paths.js";
import type { RunResult } from "../run/run.js";
import { EXIT } from "./exit.js";

export async function listCommand(o: { scenarios?: boolean }): Promise<number> {
  if (o.scenarios) {
    for (const line of catalogLines()) process.stdout.write(`${line}\n`);
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

/** Every scenario file under scenarios/ (the catalog's naive/mitigated pairs included), one line
 * each: path, the expected outcome when it declares one, and its description. */
export function catalogLines(): string[] {
  const files: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      else if (/\.ya?ml$/.test(e.name)) files.push(`${rel}${e.name}`);
    }
  };
  walk(SCENARIOS_DIR, "");
  const width = Math.max(...files.map((f) => f.length)) + 12;
  return files.sort().map((f) => {
    const doc = parseDocument(readFileSync(join(SCENARIOS_DIR, f), "utf8")).toJS() as {
      description?: string;
      expect?: { cascade?: boolean };
    } | null;
    const expect = doc?.expect?.cascade === undefined ? "" : doc.expect.cascade ? "[cascades] " : "[holds] ";
    return `${`scenarios/${f}`.padEnd(width)} ${expect}${(doc?.description ?? "").split("\n")[0]}`;
  });
}
