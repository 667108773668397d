// `npm run bench:report` — how long the report of a 30-minute run takes to render: a run folder
// is synthesized from the recorded fixture (its 36 s repeated to 1,800 load seconds, component
// readings of its 6 containers every second, three rounds of its faults), then writeReport()
// makes everything (model: the run read back and its series, specs, SVG, PNG, HTML, Markdown), as
// at the end of a run (analysis.json already written). Goal: the report in ≤ 1 s.
// A benchmark, not a test: it prints numbers. `--processes N` measures N fresh processes in a row
// (module load, then the first report, then two more), `--keep` leaves the run folder.
import { execFileSync } from "node:child_process";
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
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

type Report = Awaited<ReturnType<typeof import("../src/report/report.js").writeReport>>;
/** What one fresh process measured: module load, then three reports in a row (CPU of all threads). */
interface Measured {
  importMs: number;
  importCpu: number;
  runs: Array<{ timings: Report["timings"]; cpu: number }>;
  loadBefore: string;
  loadAfter: string;
  html: number;
  charts: string;
}

/** A fresh process's view: load the report modules, analyze like a finished run, report three times. */
async function measure(dir: string): Promise<Measured> {
  const loadBefore = load();
  const c0 = process.cpuUsage();
  const t = performance.now();
  const { writeReport } = await import("../src/report/report.js");
  const importMs = performance.now() - t;
  const d0 = process.cpuUsage(c0);
  await analyzeLikeARun(dir);
  const runs: Measured["runs"] = [];
  let last: Report | undefined;
  for (let i = 0; i < 3; i++) {
    const c = process.cpuUsage();
    last = await writeReport(dir);
    const d = process.cpuUsage(c);
    runs.push({ timings: last.timings, cpu: (d.user + d.system) / 1000 });
  }
  const out = last as Report;
  return {
    importMs,
    importCpu: (d0.user + d0.system) / 1000,
    runs,
    loadBefore,
    loadAfter: load(),
    html: statSync(out.html).size,
    charts: out.charts.map((c) => `${c.name}.png ${c.width}×${c.height}`).join(", "),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;

if (process.argv[2] === "--child") {
  // one fresh process of `--processes N`: its figures as JSON on stdout
  console.log(JSON.stringify(await measure(process.argv[3] as string)));
  process.exit(0);
}

// --processes N: N fresh processes one after another (the first report of a process is the
// figure that matters, and on shared cores one sample of it is noise); default 1, in this process.
const nArg = process.argv.indexOf("--processes");
const processes = nArg > 0 ? Math.max(1, Number(process.argv[nArg + 1]) || 1) : 1;
const dir = synthesize();
try {
  const all: Measured[] = [];
  if (processes === 1) all.push(await measure(dir));
  else
    for (let i = 0; i < processes; i++) {
      const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", dir], {
        encoding: "utf8",
      });
      all.push(JSON.parse(out.trim().split("\n").at(-1) as string) as Measured);
    }
  const breakdown = (r: Report["timings"]) =>
    `read + series ${fmt(r.model)}, specs ${fmt(r.specs)}, SVG ${fmt(r.svg)}, PNG ${fmt(r.png)}, HTML ${fmt(r.html)}, Markdown ${fmt(r.markdown)}`;
  console.log(
    `report of a synthesized ${SECONDS / 60}-minute run (${SECONDS} load seconds, 6 containers, ${ROUNDS_WITH_FAULTS.length * 3} faults), ${processes} fresh process${processes > 1 ? "es" : ""}, ${cpus().length} cores`,
  );
  for (const [i, m] of all.entries()) {
    const [cold, ...more] = m.runs as [Measured["runs"][number], ...Measured["runs"]];
    const warm = more.sort((a, b) => a.timings.total - b.timings.total)[0] as Measured["runs"][number];
    console.log(`  process ${i + 1} (load average ${m.loadBefore} before, ${m.loadAfter} after):`);
    console.log(`    loading the report modules (vega, vega-lite, resvg): ${fmt(m.importMs)} (CPU ${fmt(m.importCpu)})`);
    console.log(`    first report in this process: ${fmt(cold.timings.total)}, CPU ${fmt(cold.cpu)} (${breakdown(cold.timings)})`);
    console.log(`    best of two more:             ${fmt(warm.timings.total)}, CPU ${fmt(warm.cpu)} (${breakdown(warm.timings)})`);
  }
  const first = all.map((m) => (m.runs[0] as Measured["runs"][number]).timings.total);
  const firstCpu = all.map((m) => (m.runs[0] as Measured["runs"][number]).cpu);
  const best = all.flatMap((m) => m.runs.slice(1).map((r) => r.timings.total));
  const imports = all.map((m) => m.importMs);
  const met = (ms: number) => (ms <= 1000 ? "met" : "MISSED");
  const spread = (xs: number[]) => (xs.length > 1 ? ` (median; ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : "");
  console.log(
    `  goal ≤ 1000 ms: ${met(median(first))} for the first report in a process: ${fmt(median(first))}${spread(first)}, CPU ${fmt(median(firstCpu))}; ${met(Math.min(...best))} once warm: best ${fmt(Math.min(...best))}; module load ${fmt(median(imports))} more`,
  );
  const m = all.at(-1) as Measured;
  console.log(`  report.html ${(m.html / 1e6).toFixed(1)} MB; ${m.charts}`);
} finally {
  // --keep leaves the synthesized run and its report to look at
  if (process.argv.includes("--keep")) console.log(`  kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
