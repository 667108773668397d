// cascade list: recorded runs from the reports folder, or the scenario catalog.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { reportsDir, SCENARIOS_DIR } from "../paths.js";
import type { Analysis } from "../analyze/analyze.js";
import { FILES, readJsonFile } from "../observe/record.js";
import type { RunResult } from "../run/run.js";
import { EXIT } from "./exit.js";

interface ListedRun {
  scenario: string;
  run: string;
  dir: string;
  /** completed, interrupted, error; "killed" when the harness died before result.json; "damaged" */
  status: string;
  success: number | null;
  verdict: string | null;
  gate: string | null;
  exit: number | null;
  problem?: string;
}

export async function listCommand(o: { scenarios?: boolean; json?: boolean }): Promise<number> {
  if (o.scenarios) {
    if (o.json) process.stdout.write(`${JSON.stringify(catalogEntries(), null, 2)}\n`);
    else for (const line of catalogLines()) process.stdout.write(`${line}\n`);
    return EXIT.ok;
  }
  const root = reportsDir();
  const runs = existsSync(root) ? listRuns(root) : [];
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ root, runs }, null, 2)}\n`);
    return EXIT.ok;
  }
  if (runs.length === 0) process.stdout.write(`no runs under ${root}\n`);
  for (const r of runs) {
    const ok = r.success === null ? "-" : `${(r.success * 100).toFixed(1)}%`;
    const what = r.problem ? `(${r.problem})` : `${r.status.padEnd(11)} success ${ok.padStart(6)}  ${(r.gate ?? "-").padEnd(10)}`;
    process.stdout.write(`${r.run}  ${r.scenario.padEnd(24)} ${what}  ${r.dir}\n`);
  }
  return EXIT.ok;
}

/** Every run folder under the reports root, oldest first. A folder without scenario.yaml is not a
 * run (compare output, anything else) and is left out; a damaged file is reported on its row, so
 * one bad run never hides the others. */
export function listRuns(root: string): ListedRun[] {
  const rows: ListedRun[] = [];
  for (const scen of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const run of readdirSync(join(root, scen.name)).sort()) {
      const dir = join(root, scen.name, run);
      if (!existsSync(join(dir, FILES.scenario))) continue;
      const row: ListedRun = { scenario: scen.name, run, dir, status: "killed", success: null, verdict: null, gate: null, exit: null };
      rows.push(row);
      try {
        if (!existsSync(join(dir, FILES.result))) {
          row.problem = "no result.json: harness killed?";
          continue;
        }
        const r = readJsonFile<Partial<RunResult>>(join(dir, FILES.result));
        row.status = typeof r.status === "string" ? r.status : "damaged";
        row.success = typeof r.totals?.success === "number" ? r.totals.success : null;
        if (existsSync(join(dir, FILES.analysis))) {
          const a = readJsonFile<Partial<Analysis>>(join(dir, FILES.analysis));
          row.verdict = typeof a.verdict === "string" ? a.verdict : null;
          row.gate = a.gate?.label ?? null;
          row.exit = a.gate?.exit ?? null;
        }
      } catch (e) {
        row.status = "damaged";
        row.problem = (e as Error).message;
      }
    }
  }
  return rows.sort((a, b) => a.run.localeCompare(b.run) || a.scenario.localeCompare(b.scenario));
}

/** Every scenario file under scenarios/ (the catalog's naive/mitigated pairs included), one line
 * each: path, the expected outcome when it declares one, and its description. */
export function catalogEntries(): Array<{ file: string; expect: "cascades" | "holds" | null; description: string }> {
  return catalogFiles().map((f) => {
    const doc = catalogDoc(f);
    return {
      file: `scenarios/${f}`,
      expect: doc?.expect?.cascade === undefined ? null : doc.expect.cascade ? "cascades" : "holds",
      description: (doc?.description ?? "").split("\n")[0] ?? "",
    };
  });
}

export function catalogLines(): string[] {
  const files = catalogFiles();
  const width = Math.max(...files.map((f) => f.length)) + 12;
  return catalogEntries().map((e) => `${e.file.padEnd(width)} ${e.expect ? `[${e.expect}] ` : ""}${e.description}`);
}

function catalogDoc(f: string): { description?: string; expect?: { cascade?: boolean } } | null {
  try {
    return parseDocument(readFileSync(join(SCENARIOS_DIR, f), "utf8")).toJS() as {
      description?: string;
      expect?: { cascade?: boolean };
    } | null;
  } catch {
    return null;
  }
}

function catalogFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      else if (/\.ya?ml$/.test(e.name)) files.push(`${rel}${e.name}`);
    }
  };
  walk(SCENARIOS_DIR, "");
  return files.sort();
}
