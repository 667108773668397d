// The catalog bench's table and its one question — did any file's verdict flip between runs? —
// kept apart from the runs so a unit test can check them on made-up rows.

export interface CatalogRow {
  condition: "quiet" | "hog";
  file: string;
  run: number;
  verdict: string;
  metastable: boolean | null;
  primary: string | null;
  /** whole-run share of offered requests served within the deadline */
  availability: number | null;
  /** "db cpu 48 %" — the required baseline metrics as measured, or every service's CPU when none */
  baseline: string;
  /** "db 5,194 rows/ms, read 10 → 8.6 ms" */
  calibration: string;
  expectations: "pass" | "FAIL";
  load_average: number;
  seconds: number;
}

const SETUP = "setup did not hold";

/** Files whose runs reached two different verdicts (a run whose setup did not hold reaches none). */
export function flips(rows: CatalogRow[]): Array<{ file: string; verdicts: string[] }> {
  const byFile = new Map<string, Set<string>>();
  for (const r of rows) {
    if (r.verdict === SETUP) continue;
    const v = `${r.verdict}${r.metastable ? " (metastable)" : ""}`;
    byFile.set(r.file, (byFile.get(r.file) ?? new Set()).add(v));
  }
  return [...byFile].filter(([, v]) => v.size > 1).map(([file, v]) => ({ file, verdicts: [...v].sort() }));
}

const pct = (x: number | null) => (x === null ? "-" : `${(x * 100).toFixed(1)} %`);

export function markdownTable(rows: CatalogRow[]): string {
  const head = "| file | condition | run | verdict | primary | availability | baseline (measured) | calibration | expect | load avg | s |";
  const lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|"];
  const sorted = [...rows].sort((a, b) => a.file.localeCompare(b.file) || a.condition.localeCompare(b.condition) || a.run - b.run);
  for (const r of sorted)
    lines.push(
      `| ${r.file} | ${r.condition} | ${r.run} | ${r.verdict}${r.metastable ? " (metastable)" : ""} | ${r.primary ?? "-"} | ${pct(r.availability)} | ${r.baseline} | ${r.calibration || "-"} | ${r.expectations} | ${r.load_average.toFixed(1)} | ${r.seconds} |`,
    );
  const flipped = flips(rows);
  const setup = rows.filter((r) => r.verdict === SETUP).length;
  lines.push(
    "",
    `runs: ${rows.length}; expectations failed: ${rows.filter((r) => r.expectations === "FAIL").length}; setup did not hold: ${setup}; flipped verdicts: ${
      flipped.length ? flipped.map((f) => `${f.file} (${f.verdicts.join(" / ")})`).join(", ") : "none"
    }`,
  );
  return lines.join("\n");
}
