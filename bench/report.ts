// `npm run bench:report` — how long the report of a 30-minute run takes to render: a run folder
// is synthesized from the recorded fixture (its 36 s repeated to 1,800 load seconds, component
// readings of its 6 containers every second, three rounds of its faults), then writeReport()
// makes everything (model: the run read back and its series, specs, SVG, PNG, HTML, Markdown), as
// at the end of a run (analysis.json already written). Goal: the report in ≤ 1 s.
// A benchmark, not a test: it prints numbers.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURE = fileURLToPath(new URL("../test/fixtures/runs/cold-cache-load-shift/", import.meta.url));
const SECONDS = 1800;
const ROUNDS_WITH_FAULTS = [5, 22, 40];

type Line = Record<string, unknown> & { kind?: string; type?: string; t?: number; ts?: string; time?: string };

function lines(file: string): Line[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Line);
}

/** A 30-minute run folder built from the fixture; returns its path. */
function synthesize(): string {
  const dir = mkdtempSync(join(tmpdir(), "cascade-bench-report-"));
  const samples = lines(join(FIXTURE, "samples.ndjson"));
  const events = lines(join(FIXTURE, "events.ndjson"));
  const load = samples.filter((l) => l.kind === "load");
  const comps = samples.filter((l) => l.kind === "components");
  const period = load.length; // 36 s
  const t0 = Date.parse(load[0]?.ts as string);
  const iso = (ms: number) => new Date(t0 + ms).toISOString();
  const out: string[] = [];
  for (let t = 0; t < SECONDS; t++) {
    const k = t % period;
    const c = comps.find((x) => x.t === k);
    if (c) out.push(JSON.stringify({ ...c, t, ts: iso(t * 1000) }));
    out.push(JSON.stringify({ ...(load[k] as Line), t, ts: iso(t * 1000) }));
  }
  const last = comps.find((x) => x.t === period);
  if (last) out.push(JSON.stringify({ ...last, t: SECONDS, ts: iso(SECONDS * 1000) }));
  writeFileSync(join(dir, "samples.ndjson"), `${out.join("\n")}\n`);

  const faultEvents = events.filter((e) => e.type === "fault");
  const containerEvents = events.filter((e) => e.type === "container");
  const ev: string[] = [];
  const faults: string[] = [];
  for (const [i, round] of ROUNDS_WITH_FAULTS.entries()) {
    const off = round * period * 1000;
    for (const e of faultEvents) {
      const at = (e.actual_ms as number) + off;
      ev.push(JSON.stringify({ ...e, fault: `${e.fault}-${i + 1}`, planned_ms: at, actual_ms: at, time: iso(at) }));
    }
    for (const e of containerEvents) ev.push(JSON.stringify({ ...e, time: iso(Date.parse(e.time as string) - t0 + off) }));
    const s = off / 1000;
    faults.push(
      `  - { name: slow-cache-${i + 1}, at: ${s + 6}s, kind: latency, link: app->cache, latency: 100ms, duration: 5s }`,
      `  - { name: kill-cache-${i + 1}, at: ${s + 14}s, kind: kill, service: cache }`,
      `  - { name: start-cache-${i + 1}, at: ${s + 20}s, kind: start, service: cache }`,
    );
  }
  writeFileSync(join(dir, "events.ndjson"), `${ev.join("\n")}\n`);
  const yaml = readFileSync(join(FIXTURE, "scenario.yaml"), "utf8")
    .replace("name: docker-foundation", "name: bench-30-minutes")
    .replace("- { duration: 32s, rate: 50 }", `- { duration: ${SECONDS - 4}s, rate: 50 }`)
    .replace(/faults:\n(?:\s+- .*\n)+/, `faults:\n${faults.join("\n")}\n`);
  writeFileSync(join(dir, "scenario.yaml"), yaml);
  writeFileSync(join(dir, "plan.json"), readFileSync(join(FIXTURE, "plan.json")));
  return dir;
}

/** A finished run leaves its analysis next to the record; the report reads it rather than analyzing again. */
async function analyzeLikeARun(dir: string): Promise<void> {
  const { analyze, checkExpectations } = await import("../src/analyze/analyze.js");
  const { readRun } = await import("../src/analyze/stored.js");
  const run = readRun(dir);
  const a = analyze(run);
  a.expectations = checkExpectations(a, run.scenario);
  writeFileSync(join(dir, "analysis.json"), `${JSON.stringify(a, null, 2)}\n`);
}

const fmt = (ms: number) => `${Math.round(ms)} ms`;

const dir = synthesize();
try {
  const t = performance.now();
  const { writeReport } = await import("../src/report/report.js");
  const importMs = performance.now() - t;
  await analyzeLikeARun(dir);
  const runs: Array<Awaited<ReturnType<typeof writeReport>>> = [];
  const cpu: number[] = [];
  for (let i = 0; i < 3; i++) {
    const c = process.cpuUsage();
    runs.push(await writeReport(dir));
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  const cold = runs[0] as (typeof runs)[number];
  const warm = runs.slice(1).sort((a, b) => a.timings.total - b.timings.total)[0] as (typeof runs)[number];
  const breakdown = (r: (typeof runs)[number]) =>
    `read + series ${fmt(r.timings.model)}, specs ${fmt(r.timings.specs)}, SVG ${fmt(r.timings.svg)}, PNG ${fmt(r.timings.png)}, HTML ${fmt(r.timings.html)}, Markdown ${fmt(r.timings.markdown)}`;
  const mb = (f: string) => `${(statSync(f).size / 1e6).toFixed(1)} MB`;
  console.log(
    `report of a synthesized ${SECONDS / 60}-minute run (${SECONDS} load seconds, 6 containers, ${ROUNDS_WITH_FAULTS.length * 3} faults)`,
  );
  console.log(`  loading the report modules (vega, vega-lite, resvg): ${fmt(importMs)}`);
  console.log(`  first report in this process: ${fmt(cold.timings.total)} (${breakdown(cold)}); CPU ${fmt(cpu[0] ?? 0)} over both cores`);
  console.log(`  best of two more:             ${fmt(warm.timings.total)} (${breakdown(warm)})`);
  console.log(
    `  load average while measuring: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} on ${cpus().length} cores`,
  );
  const met = (ms: number) => (ms <= 1000 ? "met" : "MISSED");
  console.log(
    `  goal ≤ 1000 ms: ${met(warm.timings.total)} once the modules are warm (${fmt(warm.timings.total)}), ${met(cold.timings.total)} for the first report in a process (${fmt(cold.timings.total)}); module load adds ${fmt(importMs)}`,
  );
  console.log(`  report.html ${mb(cold.html)}; ${cold.charts.map((c) => `${c.name}.png ${c.width}×${c.height}`).join(", ")}`);
} finally {
  // --keep leaves the synthesized run and its report to look at
  if (process.argv.includes("--keep")) console.log(`  kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
