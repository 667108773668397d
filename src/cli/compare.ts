// cascade compare <runA> <runB>: both runs side by side on the same axes, and how each mechanism's numbers moved.
// Given two sweep folders (each with a sweep.json), both maps on one figure and how far the boundary moved.
import { existsSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { writeCompare } from "../report/compare.js";
import { reportsDir } from "../paths.js";
import { writeSweepCompare } from "../sweep/map.js";
import { readSweep, SWEEP_FILE } from "../sweep/record.js";
import { EXIT } from "./exit.js";
import { readFailure, shown } from "./paths.js";

export async function compareCommand(a: string, b: string, o: { out?: string }): Promise<number> {
  if (existsSync(join(a, SWEEP_FILE)) || existsSync(join(b, SWEEP_FILE))) return compareSweeps(a, b, o);
  let out: Awaited<ReturnType<typeof writeCompare>>;
  try {
    out = await writeCompare(a, b, o.out);
  } catch (e) {
    return readFailure(e);
  }
  const rel = shown;
  process.stdout.write(`comparison: ${rel(out.html)}\nsummary: ${rel(out.markdown)}\ncharts: ${rel(`${out.dir}/charts`)}/\n`);
  return EXIT.ok;
}

async function compareSweeps(a: string, b: string, o: { out?: string }): Promise<number> {
  let ra: ReturnType<typeof readSweep>;
  let rb: ReturnType<typeof readSweep>;
  try {
    ra = readSweep(a);
    rb = readSweep(b);
  } catch (e) {
    return readFailure(e);
  }
  if (!ra || !rb) return readFailure(new Error(`${ra ? b : a}: no ${SWEEP_FILE}; compare takes two run folders or two sweep folders`));
  if (JSON.stringify(ra.axes) !== JSON.stringify(rb.axes))
    return readFailure(new Error(`the sweeps are over different grids (${a} and ${b}): a comparison needs the same --vary axes`));
  const out = o.out ?? join(reportsDir(), "compare", `${basename(a)}-vs-${basename(b)}`);
  mkdirSync(out, { recursive: true });
  const r = await writeSweepCompare(out, { dir: a, record: ra }, { dir: b, record: rb });
  process.stdout.write(`${r.shift.join("\n")}\ncomparison: ${shown(r.html)}\nsummary: ${shown(r.markdown)}\nmaps: ${shown(r.png)}\n`);
  return EXIT.ok;
}
