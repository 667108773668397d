// `npm run bench:blackbox -- <run folders or folders of them…>` — each recorded run analysed twice:
// with the reference app's own /metrics, and as a black box from the dependencies' counters and the
// users alone (`analyze --black-box`). One table row per run: verdict, primary and contributing
// mechanisms, retries per layer (LB, app, their product, the database's calls per user request)
// for both, and whether they agree. Writes reports/bench-blackbox-<time>.md; exits 1 on a
// disagreement other than backpressure, which a black box does not judge (see README).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { reportsDir } from "../src/paths.js";
import { blackBoxRow, blackBoxTable, runFolders } from "./black-box-table.js";

const roots = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (!roots.length) {
  process.stderr.write("usage: npm run bench:blackbox -- <run folder or a folder holding run folders>…\n");
  process.exit(64);
}
const dirs = roots.flatMap((r) => runFolders(resolve(r)));
const rows = dirs.map((d) => blackBoxRow(d));
const table = blackBoxTable(rows);
mkdirSync(reportsDir(), { recursive: true });
const file = join(reportsDir(), `bench-blackbox-${new Date().toISOString().replace(/[:.]/g, "-")}.md`);
writeFileSync(file, `${table}\n`);
process.stdout.write(`${table}\n\ntable: ${file}\n`);
process.exitCode = rows.some((r) => !r.agree) ? 1 : 0;
