// cascade report <run dir>: the report again (report.html, summary.md, charts/) from a stored run.
import { relative } from "node:path";
import { writeReport } from "../report/report.js";
import { EXIT } from "./exit.js";

export async function reportCommand(dir: string): Promise<number> {
  let out: Awaited<ReturnType<typeof writeReport>>;
  try {
    out = await writeReport(dir);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return /is not a run folder|is missing|invalid/i.test((e as Error).message) ? EXIT.invalidScenario : EXIT.runFailed;
  }
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r && !r.startsWith("..") ? r : p;
  };
  process.stdout.write(
    [
      `report: ${rel(out.html)}`,
      `summary: ${rel(out.markdown)}`,
      ...out.charts.map((c) => `chart ${c.name}: ${rel(`${out.dir}/${c.files.png}`)} (${c.width}×${c.height}), .svg, .vl.json`),
      `rendered in ${Math.round(out.timings.total)} ms`,
      "",
    ].join("\n"),
  );
  return EXIT.ok;
}
