// cascade compare <runA> <runB>: both runs side by side on the same axes, and how each mechanism's numbers moved.
import { relative } from "node:path";
import { writeCompare } from "../report/compare.js";
import { EXIT } from "./exit.js";

export async function compareCommand(a: string, b: string, o: { out?: string }): Promise<number> {
  let out: Awaited<ReturnType<typeof writeCompare>>;
  try {
    out = await writeCompare(a, b, o.out);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return /is not a run folder|is missing|invalid/i.test((e as Error).message) ? EXIT.invalidScenario : EXIT.runFailed;
  }
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r && !r.startsWith("..") ? r : p;
  };
  process.stdout.write(`comparison: ${rel(out.html)}\nsummary: ${rel(out.markdown)}\ncharts: ${rel(`${out.dir}/charts`)}/\n`);
  return EXIT.ok;
}
