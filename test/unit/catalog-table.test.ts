// The catalog bench's machinery (the runs themselves are `npm run bench:catalog`, not CI): a flip is
// two verdicts for one file; a run whose setup did not hold is no verdict at all.
import { describe, expect, it } from "vitest";
import { type CatalogRow, flips, markdownTable } from "../../bench/catalog-table.js";

const row = (o: Partial<CatalogRow>): CatalogRow => ({
  condition: "quiet",
  file: "retry-storm.naive",
  run: 1,
  verdict: "cascade",
  metastable: true,
  primary: "retries",
  availability: 0.2,
  baseline: "db cpu 48 %",
  calibration: "db 5,000 rows/ms",
  expectations: "pass",
  load_average: 0.5,
  seconds: 44,
  ...o,
});

describe("catalog bench table", () => {
  it("finds no flip when every run of a file reached the same verdict, setup failures aside", () => {
    const rows = [row({}), row({ run: 2, condition: "hog" }), row({ run: 3, verdict: "setup did not hold", metastable: null })];
    expect(flips(rows)).toEqual([]);
    expect(markdownTable(rows)).toContain("setup did not hold: 1; flipped verdicts: none");
  });

  it("names a file whose verdict flipped, metastability included", () => {
    const rows = [row({}), row({ run: 2, metastable: false }), row({ file: "x.mitigated", verdict: "no cascade", metastable: false })];
    expect(flips(rows)).toEqual([{ file: "retry-storm.naive", verdicts: ["cascade", "cascade (metastable)"] }]);
    expect(markdownTable(rows)).toMatch(/flipped verdicts: retry-storm.naive \(cascade \/ cascade \(metastable\)\)/);
  });

  it("lists every run as a row, sorted by file, condition and run", () => {
    const table = markdownTable([row({ run: 2 }), row({ file: "a.naive", availability: null }), row({})]).split("\n");
    expect(table[2]).toMatch(/^\| a.naive \| quiet \| 1 \| cascade \(metastable\) \| retries \| - \|/);
    expect(table[3]).toMatch(/^\| retry-storm.naive \| quiet \| 1 \|.*\| 20.0 % \| db cpu 48 % \|/);
    expect(table[4]).toMatch(/^\| retry-storm.naive \| quiet \| 2 \|/);
  });
});
