// cascade compare <runA> <runB>: both runs side by side on the same axes, and how each mechanism's numbers moved.
import { writeCompare } from "../report/compare.js";
import { EXIT } from "./exit.js";
import { readFailure, shown } from "./paths.js";

export async function compareCommand(a: string, b: string, o: { out?: string }): Promise<number> {
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
