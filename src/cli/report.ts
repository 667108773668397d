// cascade report <run dir>: the report again (report.html, summary.md, charts/) from a stored run.
import { writeReport } from "../report/report.js";
import { EXIT } from "./exit.js";
import { readFailure, shown } from "./paths.js";

export async function reportCommand(dir: string): Promise<number> {
  let out: Awaited<ReturnType<typeof writeReport>>;
  try {
    out = await writeReport(dir);
  } catch (e) {
    return readFailure(e);
  }
  const rel = shown;
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
