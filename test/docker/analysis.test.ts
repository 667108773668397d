// The analysis on real runs: the same topology and the same database brownout, with the app's
// retries on and off. Retries must show as amplification, and make the outcome worse.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { resolveSource } from "../../src/images/source.js";
import { type RunResult, runScenario } from "../../src/run/run.js";
import { parseScenario } from "../../src/scenario/load.js";

const out = mkdtempSync(join(tmpdir(), "cascade-analysis-"));

/** No cache: every request is a query that burns 6 ms of CPU (calibrated on the host; a transaction
 * costs ~3 ms more, measured 9.9-11 ms per transaction at 8 ms) of a 0.5-CPU database against
 * 30 req/s, checked at baseline (30-70 % of its CPU; at 8 ms a fresh-clone CI run measured 71 %). A
 * 6 s brownout (300 ms on the link, 250 ms query timeout) fails every attempt; with 4 attempts the
 * database then gets ~2× what it can serve. */
const scenario = (retryAttempts: number) => `
name: brownout-retries-${retryAttempts}
services:
  app: { kind: app, config: { keys: 50, dbQueryCpuMs: 6, dbQueryTimeoutMs: 250, dbPoolSize: 20, retryAttempts: ${retryAttempts}, retryBackoff: none } }
  db: { kind: postgres, cpus: 0.5 }
links:
  - { from: app, to: db }
load:
  target: app
  timeout: 2s
  phases: [{ duration: 40s, rate: 30 }]
faults:
  - { name: brownout, at: 8s, kind: latency, link: app->db, latency: 300ms, duration: 6s }
slo: { availability: 95%, recovery: 15s }
baseline: { require: { db: { cpu: 30%..70% } } }
`;

async function run(attempts: number): Promise<RunResult> {
  const text = scenario(attempts);
  const r = await runScenario(parseScenario(text, "inline.yaml"), text, {
    source: resolveSource().source,
    progress: () => {},
    signal: new AbortController().signal,
    outDir: out,
  });
  if (r.status !== "completed" || !r.analysis) throw new Error(`run ${r.status}: ${r.error}`);
  return r;
}

const severity = (r: RunResult) => {
  const a = r.analysis;
  if (!a) return -1;
  if (a.verdict !== "cascade") return 0;
  if (a.recovery.metastable) return 3;
  return a.recovery.recovered ? 1 : 2;
};

describe("retries on vs off under the same brownout", () => {
  let on: RunResult;
  let off: RunResult;
  beforeAll(async () => {
    off = await run(1);
    on = await run(4);
  }, 240_000);

  it("finds retry amplification only with retries on", () => {
    // the app's layer: attempts per read from its own counters (no LB here, so also the product)
    const amp = (r: RunResult) => r.analysis?.mechanisms.find((m) => m.name === "retries")?.numbers.app_layer as number | null;
    console.log(
      `retries on: ${on.analysis?.verdict}, amplification ${amp(on)}, recovery ${JSON.stringify(on.analysis?.recovery)}\n` +
        `retries off: ${off.analysis?.verdict}, amplification ${amp(off)}, recovery ${JSON.stringify(off.analysis?.recovery)}`,
    );
    expect(amp(on)).toBeGreaterThan(2);
    expect(amp(off) ?? 1).toBeLessThan(1.2);
    expect([on.analysis?.primary?.name, ...(on.analysis?.contributing ?? []).map((m) => m.name)]).toContain("retries");
  });

  it("gives retries on the worse verdict", () => {
    expect(severity(on)).toBeGreaterThan(severity(off));
  });
});
