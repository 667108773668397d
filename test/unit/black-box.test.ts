// The black-box comparison's machinery (bench/black-box-table.ts) on the recorded runs: each run
// analysed with the app's /metrics and without; the heavy proof (`npm run bench:blackbox` over a
// whole catalog run) is run by hand.
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { blackBoxRow, blackBoxTable, productVsDb, runFolders } from "../../bench/black-box-table.js";

const root = fileURLToPath(new URL("../fixtures/runs", import.meta.url));

describe("bench:blackbox", () => {
  const dirs = runFolders(root);
  const rows = dirs.map(blackBoxRow);

  it("finds every recorded run and judges each twice, agreeing (shedding excepted, which a black box does not judge)", () => {
    expect(dirs.length).toBe(readdirSync(root).length);
    expect(rows.every((r) => r.agree)).toBe(true);
    const shed = rows.find((r) => r.run === "shedding-held");
    expect(shed?.full.backpressure).toBe(true);
    expect(shed?.box.backpressure).toBeNull();
    expect(shed?.note).toMatch(/not judged from outside/);
    const storm = rows.find((r) => r.run === "retry-storm-metastable");
    expect(storm?.box.primary).toBe("retries");
  });

  it("writes one row per run and a count, and compares the layers' product with the database only where an LB layer was counted", () => {
    const table = blackBoxTable(rows);
    expect(table.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| scenario"))).toHaveLength(rows.length);
    expect(table).toMatch(new RegExp(`runs: ${rows.length}; agree: ${rows.length}; disagree: 0`));
    const row = rows[0]!;
    expect(productVsDb({ ...row, full: { ...row.full, lb: 2, product: 6 }, box: { ...row.box, stack: 5 } })).toBe("+20.0 %");
    expect(productVsDb({ ...row, full: { ...row.full, lb: null, product: 3 } })).toBe("-");
    // no retries, nothing to compare
    expect(productVsDb({ ...row, full: { ...row.full, lb: 1, product: 1 }, box: { ...row.box, stack: 1.1 } })).toBe("-");
  });
});
