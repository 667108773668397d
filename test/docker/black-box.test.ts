// Attribution from the dependencies' own counters on a real run: two layers of retries (HAProxy
// retrying once on the other replica, the app trying each read 3 times) against a database that
// turns slow. Each layer is counted by the layer itself — HAProxy's attempts per request received,
// the app's attempts per read — and their product must match the database's own count of calls
// per user request within ±15 %; judged with the app's /metrics left out, the verdict and the
// mechanism are the same.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { judge } from "../../src/analyze/analyze.js";
import { readRun } from "../../src/analyze/stored.js";
import { resolveSource } from "../../src/images/source.js";
import { SCENARIOS_DIR } from "../../src/paths.js";
import { type RunResult, runScenarioFile } from "../../src/run/run.js";

describe("two layers of retries over a slow database", () => {
  let r: RunResult;
  beforeAll(async () => {
    r = await runScenarioFile(join(SCENARIOS_DIR, "two-layer-retries.yaml"), {
      source: resolveSource().source,
      progress: () => {},
      signal: new AbortController().signal,
      outDir: mkdtempSync(join(tmpdir(), "cascade-black-box-")),
    });
    if (r.status !== "completed" || !r.analysis) throw new Error(`run ${r.status}: ${r.error}`);
  }, 180_000);

  it("counts each layer from its own counters, and their product matches the database's calls per user request", () => {
    const retries = r.analysis?.primary;
    expect(r.analysis?.verdict).toBe("cascade");
    expect(retries?.name).toBe("retries");
    const n = retries?.numbers as Record<string, number>;
    console.log(
      `LB layer ${n.lb_layer} × app layer ${n.app_layer} = ${n.layers_product}; the database: ${n.db_calls_per_request} calls per user request`,
    );
    expect(n.lb_layer).toBeGreaterThan(1.6); // 1 retry, redispatched: up to 2 attempts per request
    expect(n.lb_layer).toBeLessThanOrEqual(2.05);
    expect(n.app_layer).toBeGreaterThan(2.5); // 3 attempts per read
    expect(n.app_layer).toBeLessThanOrEqual(3.05);
    expect(Math.abs((n.layers_product as number) / (n.db_calls_per_request as number) - 1)).toBeLessThanOrEqual(0.15);
    expect(retries?.sources?.join(" ")).toMatch(/haproxy stats/);
    expect(retries?.sources?.join(" ")).toMatch(/postgres pg_stat_database/);
  });

  it("judged as a black box (the app's /metrics left out): the same verdict and mechanism, every figure from outside the app", () => {
    const box = judge(readRun(r.dir), { blackBox: true });
    expect(box.verdict).toBe(r.analysis?.verdict);
    expect(box.primary?.name).toBe("retries");
    const n = box.primary?.numbers as Record<string, number>;
    expect(n.lb_layer).toBeGreaterThan(1.6);
    expect(n.stack_amplification).toBeGreaterThan(4);
    for (const m of box.mechanisms) for (const s of m.sources ?? []) expect(s, m.name).not.toMatch(/\/metrics/);
    // the database's own sessions show the churn the app's timeouts cause
    expect(box.contributing.map((m) => m.name)).toContain("connection-churn");
  });
});
