// The black-box comparison's rows and table (bench/black-box.ts), apart from the file walking so a
// unit test can run it on the recorded fixtures.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Analysis, judge } from "../src/analyze/analyze.js";
import { readRun } from "../src/analyze/stored.js";

export interface Side {
  verdict: string;
  primary: string | null;
  contributing: string[];
  metastable: boolean | null;
  /** retries per layer, from the retries mechanism's numbers */
  lb: number | null;
  app: number | null;
  product: number | null;
  /** the database's own calls per user request (commits + rollbacks − sessions − the reader's) */
  db_per_request: number | null;
  /** those calls against what the requests needed (the baseline and lost cache hits) */
  stack: number | null;
  backpressure: boolean | null;
}

export interface BlackBoxRow {
  run: string;
  scenario: string;
  full: Side;
  box: Side;
  /** verdict, metastability and primary mechanism the same — or the only difference is shedding,
   * which a black box does not judge */
  agree: boolean;
  note: string;
}

const num = (v: unknown) => (typeof v === "number" ? v : null);

function side(a: Analysis): Side {
  const retries = a.mechanisms.find((m) => m.name === "retries");
  return {
    verdict: a.verdict,
    primary: a.primary?.name ?? null,
    contributing: a.contributing.map((m) => m.name).sort(),
    metastable: a.recovery.metastable,
    lb: num(retries?.numbers.lb_layer),
    app: num(retries?.numbers.app_layer),
    product: num(retries?.numbers.layers_product),
    db_per_request: num(retries?.numbers.db_calls_per_request),
    stack: num(retries?.numbers.stack_amplification),
    backpressure: a.backpressure.held,
  };
}

export function blackBoxRow(dir: string): BlackBoxRow {
  const run = readRun(dir);
  const full = side(judge(run));
  const box = side(judge(run, { blackBox: true }));
  const same = full.verdict === box.verdict && full.primary === box.primary && full.metastable === box.metastable;
  // Contained by shedding is a judgement on the app's own refusals: from outside it is not made.
  const shedding = !same && full.backpressure === true && box.backpressure === null;
  const notes = [
    ...(shedding ? ["shedding held per the app's counters; not judged from outside"] : []),
    ...(same && full.contributing.join() !== box.contributing.join() ? ["contributing mechanisms differ"] : []),
  ];
  return {
    run: dir.split("/").slice(-1)[0] ?? dir,
    scenario: run.scenario.name,
    full,
    box,
    agree: same || shedding,
    note: notes.join("; "),
  };
}

const x = (v: number | null) => (v === null ? "-" : `${v.toFixed(2)}`);
/** How far the product of the layers' own counters (LB × the app's attempts per read) lands from
 * the database's own count of calls beyond what the requests needed, where retries happened (a
 * product above 1.2) and there is an LB layer to multiply. */
export function productVsDb(r: BlackBoxRow): string {
  const { product, lb } = r.full;
  const db = r.box.stack;
  if (product === null || lb === null || db === null || db === 0 || product < 1.2) return "-";
  const d = ((product - db) / db) * 100;
  return `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(1)} %`;
}

const mech = (s: Side) => `${s.primary ?? "-"}${s.contributing.length ? ` (+ ${s.contributing.join(", ")})` : ""}`;
const verdict = (s: Side) => `${s.verdict}${s.metastable ? " (metastable)" : ""}`;

export function blackBoxTable(rows: BlackBoxRow[]): string {
  const lines = [
    "| scenario | run | verdict: with app metrics / black box | mechanisms: with / black box | retries LB × app = product (with) | LB × app = product (black box) | db calls per user request (needed: ×) | product (with) against the db's × | agree |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of [...rows].sort((a, b) => a.scenario.localeCompare(b.scenario)))
    lines.push(
      `| ${r.scenario} | ${r.run} | ${verdict(r.full)} / ${verdict(r.box)} | ${mech(r.full)} / ${mech(r.box)} | ${x(r.full.lb)} × ${x(r.full.app)} = ${x(r.full.product)} | ${x(r.box.lb)} × ${x(r.box.app)} = ${x(r.box.product)} | ${x(r.box.db_per_request)} (${x(r.box.stack)}×) | ${productVsDb(r)} | ${r.agree ? "yes" : "NO"}${r.note ? ` (${r.note})` : ""} |`,
    );
  lines.push("", `runs: ${rows.length}; agree: ${rows.filter((r) => r.agree).length}; disagree: ${rows.filter((r) => !r.agree).length}`);
  return lines.join("\n");
}

/** Run folders under a root (the root itself when it is one): folders holding samples.ndjson, up to 3 deep. */
export function runFolders(root: string, depth = 3): string[] {
  const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;
  if (existsSync(join(root, "samples.ndjson"))) return [root];
  if (depth === 0 || !isDir(root)) return [];
  return readdirSync(root)
    .map((f) => join(root, f))
    .filter(isDir)
    .flatMap((d) => runFolders(d, depth - 1));
}
