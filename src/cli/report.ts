// cascade report <run dir>: the report again (report.html, summary.md, charts/) from a stored run.
import { writeReport } from "../report/report.js";
import { EXIT } from "./exit.js";
import { readFailure, shown } from "./paths.js";

export async function reportCommand(dir: string, o: { out?: string } = {}): Promise<number> {
  let out: Awaited<ReturnType<typeof writeReport>>;
  try {
    out = await writeReport(dir, o.out ?? dir);
  } catch (e) {
    // A folder it may not write into is not a damaged record: say where to write instead.
    if ((e as NodeJS.ErrnoException).code === "EACCES" || (e as NodeJS.ErrnoException).code === "EROFS") {
      process.stderr.write(`cannot write the report into ${o.out ?? dir}: ${(e as Error).message} (use --out <dir>)\n`);
      return EXIT.infrastructure;
    }
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
