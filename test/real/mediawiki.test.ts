// MediaWiki 1.39 under Cascade (scenarios/real): a real application nobody in this project wrote,
// built from Debian's packages (scenarios/real/mediawiki), installed by its own installer at start,
// loaded with real page views through HAProxy. MediaWiki exports none of Cascade's metrics, so every
// verdict here comes from the dependencies' own counters (memcached stats, pg_stat_database,
// pg_stat_statements, HAProxy, cgroups) — and must come out the same judged as a black box.
// Not part of `npm test` (a run of each is a minute of a loaded 2-core machine, plus the image
// build): `npm run test:real`.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { judge } from "../../src/analyze/analyze.js";
import { readRun } from "../../src/analyze/stored.js";
import { SCENARIOS_DIR } from "../../src/paths.js";
import { mechanismNames as names, runScenario } from "../docker/helpers.js";

const dir = join(SCENARIOS_DIR, "real");
const out = mkdtempSync(join(tmpdir(), "cascade-real-"));
const table: string[] = [];

const run = (file: string) => runScenario(dir, file, out);

/** scenario file → its verdict and the mechanism its story is carried by (its expect block says the
 * same). A slow database hurts users only while it is slow: by the analysis's rule that is the
 * outage itself (queuing carries no harm past the fault), not a cascade. */
const cases: [string, string, string][] = [
  ["mediawiki-cache-kill.yaml", "cascade", "load-shift"],
  ["mediawiki-slow-db.yaml", "degraded during the fault", "queuing"],
  ["mediawiki-cache-connection-cap.yaml", "cascade", "connection-churn"],
];

describe.each(cases)("%s", (file, verdict, mechanism) => {
  it(`${verdict} through ${mechanism}, as the dependencies' own counters show it`, async () => {
    const r = await run(file);
    const a = r.analysis;
    table.push(`| ${file} | ${a?.verdict}${a?.setup?.failure ? `: ${a.setup.failure}` : ""} | ${names(a).join(", ") || "-"} | ${r.dir} |`);
    // the setup held (web busy, database idle behind its cache) — else nothing can be concluded
    expect(a?.setup?.failure ?? null).toBeNull();
    expect(a?.verdict).toBe(verdict);
    expect(names(a)).toContain(mechanism);
    expect(a?.expectations.checks.filter((c) => !c.pass)).toEqual([]);
    // a cascade's SLO misses are waived (it is what the scenario rehearses); an outage that is only
    // the fault itself still counts against the SLO: users were hurt (exit 4)
    expect(a?.gate).toMatchObject(verdict === "cascade" ? { pass: true, exit: 0 } : { exit: 4 });
    // MediaWiki exports nothing of ours: the black-box judgement is the same judgement
    const box = judge(readRun(r.dir), { blackBox: true });
    expect(box.verdict, `${file} as a black box`).toBe(verdict);
    expect(names(box)).toContain(mechanism);
  });
});

afterAll(() => {
  console.log(["| scenario | verdict | mechanisms | run folder |", "|---|---|---|---|", ...table].join("\n"));
});
