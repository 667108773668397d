// `cascade compare <runA> <runB>`: one report with both runs side by side — typically a naive
// scenario and its mitigated variant. Each chart puts the two runs' panels next to each other on
// the same axes (one time axis, one y range per panel, one colour per series), and the tables say
// how each mechanism's numbers moved from A to B.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Mechanism } from "../analyze/mechanisms.js";
import { reportsDir } from "../paths.js";
import {
  CONFIG,
  bucketOf,
  type Chart,
  type Frame,
  type Panel,
  SCHEMA,
  type SeriesDef,
  type VlSpec,
  chartsOf,
  columnSpecs,
  laneWindows,
  lanesOf,
  panelExtent,
} from "./charts.js";
import { type PageChart, chartSection, escapeHtml, objectivesTable, page, table, verdictBlock } from "./html.js";
import { escapeMarkdown, mdTable, objectivesMd } from "./markdown.js";
import { type ReportModel, loadModel } from "./model.js";
import { MECHANISM_TITLES, formatNumber, numberName, verdictWord } from "./narrative.js";
import { REPORT_FILES, type RenderedChart, renderCharts } from "./report.js";

export const COMPARE_WIDTH = 540;

export interface CompareOutput {
  dir: string;
  html: string;
  markdown: string;
  charts: RenderedChart[];
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "-");

/** How the two runs are called: their scenario names, with the run folder when the names are equal. */
export function runLabels(a: ReportModel, b: ReportModel): [string, string] {
  const na = a.run.scenario.name;
  const nb = b.run.scenario.name;
  if (na !== nb) return [na, nb];
  return [`${na} (${basename(a.meta.dir)})`, `${nb} (${basename(b.meta.dir)})`];
}

export function defaultCompareDir(a: ReportModel, b: ReportModel): string {
  const na = a.run.scenario.name;
  const nb = b.run.scenario.name;
  const [la, lb] = na === nb ? [`${na}-${basename(a.meta.dir)}`, `${nb}-${basename(b.meta.dir)}`] : [na, nb];
  return join(reportsDir(), "compare", `${safe(la)}-vs-${safe(lb)}`);
}

/** The two runs' versions of a panel with one series list (same keys, same colours, same legend). */
export function unifyPanels(pa: Panel, pb: Panel): [Panel, Panel] {
  const series: SeriesDef[] = [];
  const used = new Set<string>();
  const spare = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac"];
  for (const d of [...pa.series, ...pb.series]) {
    if (series.some((s) => s.name === d.name)) continue;
    const color = used.has(d.color) ? (spare.find((c) => !used.has(c)) ?? d.color) : d.color;
    used.add(color);
    series.push({ ...d, key: `s${series.length}`, color });
  }
  const rekey = (p: Panel): Panel => {
    const map = p.series.map((d) => [d.key, (series.find((s) => s.name === d.name) as SeriesDef).key] as const);
    const rows = p.rows.map((r) => {
      const out: Panel["rows"][number] = { t: r.t };
      for (const [from, to] of map) if (r[from] !== undefined) out[to] = r[from] as number | null;
      return out;
    });
    return { ...p, series, rows };
  };
  if (pa.strip && pb.strip) {
    const services = [...new Set([...pa.strip.services, ...pb.strip.services])];
    return [
      { ...pa, height: Math.max(pa.height, pb.height), strip: { ...pa.strip, services: pa.strip.services.length ? services : [] } },
      { ...pb, height: Math.max(pa.height, pb.height), strip: { ...pb.strip, services: pb.strip.services.length ? services : [] } },
    ];
  }
  return [rekey(pa), rekey(pb)];
}

/** One chart of both runs: a row per panel, run A on the left, run B on the right, shared axes. */
export function compareSpec(ca: Chart, cb: Chart, ma: ReportModel, mb: ReportModel, labels: [string, string]): VlSpec {
  const xMax = Math.max(1, ma.series.seconds, mb.series.seconds);
  const pairs = ca.panels.map((pa) => unifyPanels(pa, cb.panels.find((p) => p.id === pa.id) ?? { ...pa, rows: [], series: [] }));
  const yDomains: Record<string, [number, number]> = {};
  for (const [pa, pb] of pairs) {
    const ea = panelExtent(pa);
    const eb = panelExtent(pb);
    const lo = Math.min(ea?.[0] ?? Number.POSITIVE_INFINITY, eb?.[0] ?? Number.POSITIVE_INFINITY);
    const hi = Math.max(ea?.[1] ?? 0, eb?.[1] ?? 0);
    if (hi > 0) yDomains[pa.id] = [Number.isFinite(lo) ? lo : 0, pa.percent ? Math.max(1, hi) : hi * 1.05];
  }
  const lanes = Math.max(1, lanesOf(laneWindows(ma.windows, xMax, COMPARE_WIDTH)), lanesOf(laneWindows(mb.windows, xMax, COMPARE_WIDTH)));
  const frame = (m: ReportModel, legend: boolean): Frame => ({
    xMax,
    windows: m.windows,
    width: COMPARE_WIDTH,
    lanes,
    yDomains,
    legend,
    bucket: bucketOf(m.series.seconds),
  });
  const a = columnSpecs({ ...ca, panels: pairs.map(([p]) => p) }, frame(ma, false), "a_");
  const b = columnSpecs({ ...cb, panels: pairs.map(([, p]) => p) }, frame(mb, true), "b_");
  const heading = (v: VlSpec, label: string) => ({
    ...v,
    title: { text: label, anchor: "start", fontSize: 13, fontWeight: "bold", color: "#222", offset: 6 },
  });
  const [stripA, ...restA] = a.views;
  const [stripB, ...restB] = b.views;
  const independent = {
    scale: { x: "independent", y: "independent", color: "independent", strokeDash: "independent", shape: "independent" },
    legend: { color: "independent", strokeDash: "independent", shape: "independent" },
  };
  // One grid of two columns (A, B) rather than rows of pairs: a grid aligns every row's plots, so
  // the time axes line up down each column even where a panel's y labels are narrower.
  const cells: VlSpec[] = [heading(stripA as VlSpec, `A: ${labels[0]}`), heading(stripB as VlSpec, `B: ${labels[1]}`)];
  for (const [i, v] of restA.entries()) cells.push(v, restB[i] as VlSpec);
  return {
    $schema: SCHEMA,
    title: { text: ca.title, subtitle: `A: ${labels[0]} · B: ${labels[1]} — same axes` },
    description: `${ca.title}, two runs side by side: ${ca.caption}`,
    config: CONFIG,
    datasets: { ...a.datasets, ...b.datasets },
    concat: cells,
    columns: 2,
    spacing: { row: 12, column: 40 },
    resolve: independent,
  };
}

// ---------------------------------------------------------------- the differences

const served = (m: ReportModel) => {
  const offered = m.series.users.reduce((x, u) => x + u.offered, 0);
  const good = m.series.users.reduce((x, u) => x + u.good, 0);
  return offered > 0 ? good / offered : null;
};
const worstP99 = (m: ReportModel) => {
  const xs = m.run.load.map((s) => s.p99).filter((v): v is number => v !== null);
  return xs.length ? Math.max(...xs) : null;
};
const recovery = (m: ReportModel) => {
  const r = m.analysis.recovery;
  return r.recovered === true
    ? `${r.after_s} s${r.metastable ? " (metastable)" : ""}`
    : r.recovered === false
      ? r.metastable
        ? "metastable"
        : "not recovered"
      : "not assessed";
};
const delta = (a: number | null, b: number | null, digits = 2) =>
  a === null || b === null ? "" : `${b - a >= 0 ? "+" : "−"}${formatNumber(Number(Math.abs(b - a).toFixed(digits)))}`;

export interface DiffRow {
  what: string;
  a: string;
  b: string;
  change: string;
}

/** The headline: verdict, users served, worst second, recovery, primary mechanism, backpressure, SLO. */
export function headlineRows(ma: ReportModel, mb: ReportModel): DiffRow[] {
  const sa = served(ma);
  const sb = served(mb);
  const pa = worstP99(ma);
  const pb = worstP99(mb);
  const bp = (m: ReportModel) => (m.analysis.backpressure.held === null ? "no shedding" : m.analysis.backpressure.held ? "held" : "failed");
  const prim = (m: ReportModel) => (m.analysis.primary ? m.analysis.primary.name : "none");
  return [
    { what: "verdict", a: verdictWord(ma.analysis), b: verdictWord(mb.analysis), change: "" },
    {
      what: "arrivals served in time (whole run)",
      a: sa === null ? "–" : `${(sa * 100).toFixed(1)} %`,
      b: sb === null ? "–" : `${(sb * 100).toFixed(1)} %`,
      change: sa === null || sb === null ? "" : `${delta(sa * 100, sb * 100, 1)} points`,
    },
    { what: "worst second's p99 (ms)", a: formatNumber(pa), b: formatNumber(pb), change: delta(pa, pb, 0) },
    { what: "recovery after the trigger", a: recovery(ma), b: recovery(mb), change: "" },
    { what: "primary mechanism", a: prim(ma), b: prim(mb), change: "" },
    { what: "backpressure", a: bp(ma), b: bp(mb), change: "" },
    { what: "SLO gate", a: ma.analysis.slo.pass ? "pass" : "FAIL", b: mb.analysis.slo.pass ? "pass" : "FAIL", change: "" },
  ];
}

/** Every mechanism's score and numbers in A and B, with the change. */
export function mechanismDiffs(ma: ReportModel, mb: ReportModel): Array<DiffRow & { mechanism: string }> {
  const byName = (ms: Mechanism[]) => new Map(ms.map((m) => [m.name, m]));
  const A = byName(ma.analysis.mechanisms);
  const B = byName(mb.analysis.mechanisms);
  const names = [...new Set([...A.keys(), ...B.keys()])].sort(
    (x, y) => Math.max(B.get(y)?.score ?? 0, A.get(y)?.score ?? 0) - Math.max(B.get(x)?.score ?? 0, A.get(x)?.score ?? 0),
  );
  const rows: Array<DiffRow & { mechanism: string }> = [];
  for (const name of names) {
    const a = A.get(name);
    const b = B.get(name);
    const mechanism = MECHANISM_TITLES[name] ?? name;
    rows.push({
      mechanism,
      what: "score",
      a: a ? a.score.toFixed(2) : "–",
      b: b ? b.score.toFixed(2) : "–",
      change: delta(a?.score ?? null, b?.score ?? null),
    });
    const keys = [...new Set([...Object.keys(a?.numbers ?? {}), ...Object.keys(b?.numbers ?? {})])].sort((x, y) =>
      x === "window" ? 1 : y === "window" ? -1 : 0,
    );
    for (const k of keys) {
      const va = a?.numbers[k] ?? null;
      const vb = b?.numbers[k] ?? null;
      rows.push({
        mechanism,
        what: numberName(k),
        a: formatNumber(va),
        b: formatNumber(vb),
        change: typeof va === "number" && typeof vb === "number" ? delta(va, vb) : "",
      });
    }
  }
  return rows;
}

// ---------------------------------------------------------------- files

export async function writeCompare(dirA: string, dirB: string, out?: string): Promise<CompareOutput> {
  const ma = loadModel(dirA);
  const mb = loadModel(dirB);
  const dir = out ?? defaultCompareDir(ma, mb);
  mkdirSync(dir, { recursive: true });
  const labels = runLabels(ma, mb);
  const chartsB = chartsOf(mb);
  const charts = chartsOf(ma).map((ca, i) => ({ chart: ca, spec: compareSpec(ca, chartsB[i] as Chart, ma, mb, labels) }));
  const rendered = await renderCharts(dir, charts, { svg: 0, png: 0 });

  const head = headlineRows(ma, mb);
  const mech = mechanismDiffs(ma, mb);
  const pageCharts: PageChart[] = charts.map(({ chart, spec }, i) => {
    const f = (rendered[i] as RenderedChart).files;
    return {
      id: chart.name,
      title: chart.title,
      caption: chart.caption,
      spec,
      files: [
        ["PNG", f.png],
        ["SVG", f.svg],
        ["vega-lite spec", f.spec],
      ],
    };
  });
  const column = (m: ReportModel, label: string, letter: string) => `<div>
<h2>${escapeHtml(letter)}: ${escapeHtml(label)}</h2>
${m.run.scenario.description ? `<p>${escapeHtml(m.run.scenario.description)}</p>` : ""}
<p class="meta">run ${escapeHtml(m.meta.id)} · ${m.series.seconds} s of load</p>
${verdictBlock(m, "h3")}
<h3>SLO and expectations</h3>
${objectivesTable(m)}
</div>`;
  const body = `<header><h1>Cascade comparison: ${escapeHtml(labels[0])} vs ${escapeHtml(labels[1])}</h1>
<p class="meta">A: ${escapeHtml(ma.meta.dir)}<br>B: ${escapeHtml(mb.meta.dir)}</p></header>
<h2>What changed</h2>
${table(
  ["", `A: ${labels[0]}`, `B: ${labels[1]}`, "change"],
  head.map((r) => [escapeHtml(r.what), escapeHtml(r.a), escapeHtml(r.b), escapeHtml(r.change)]),
  [],
)}
<h2>Mechanisms, A → B</h2>
${table(
  ["mechanism", "number", "A", "B", "B − A"],
  mech.map((r, i) => [
    i === 0 || (mech[i - 1] as DiffRow & { mechanism: string }).mechanism !== r.mechanism ? `<b>${escapeHtml(r.mechanism)}</b>` : "",
    escapeHtml(r.what),
    escapeHtml(r.a),
    escapeHtml(r.b),
    escapeHtml(r.change),
  ]),
  [2, 3, 4],
)}
<div class="cols">${column(ma, labels[0], "A")}${column(mb, labels[1], "B")}</div>
<h2>Charts — A left, B right, same axes</h2>
${pageCharts.map(chartSection).join("\n")}
<footer>Generated by <code>cascade compare</code>. Each chart is also in <code>charts/</code> as PNG, SVG and its vega-lite spec.</footer>`;
  const html = join(dir, REPORT_FILES.html);
  writeFileSync(html, page(`Cascade comparison: ${labels[0]} vs ${labels[1]}`, body, pageCharts));

  const md = [
    `## Cascade comparison: ${escapeMarkdown(labels[0])} vs ${escapeMarkdown(labels[1])}`,
    "",
    ...mdTable(
      ["", `A: ${escapeMarkdown(labels[0])}`, `B: ${escapeMarkdown(labels[1])}`, "change"],
      head.map((r) => [escapeMarkdown(r.what), escapeMarkdown(r.a), escapeMarkdown(r.b), escapeMarkdown(r.change)]),
    ),
    "",
    `**A** — ${escapeMarkdown(ma.analysis.summary)}`,
    "",
    `**B** — ${escapeMarkdown(mb.analysis.summary)}`,
    "",
    "### Mechanisms, A → B",
    "",
    ...mdTable(
      ["mechanism", "number", "A", "B", "B − A"],
      mech.map((r) => [
        escapeMarkdown(r.mechanism),
        escapeMarkdown(r.what),
        escapeMarkdown(r.a),
        escapeMarkdown(r.b),
        escapeMarkdown(r.change),
      ]),
      [2, 3, 4],
    ),
    "",
    "### SLO and expectations",
    "",
    `**A: ${escapeMarkdown(labels[0])}**`,
    "",
    ...objectivesMd(ma.analysis),
    "",
    `**B: ${escapeMarkdown(labels[1])}**`,
    "",
    ...objectivesMd(mb.analysis),
    "",
    "### Charts (A left, B right, same axes)",
    "",
    ...rendered.flatMap((r) => [`![${escapeMarkdown(r.title)}](${r.files.png})`, ""]),
  ].join("\n");
  const markdown = join(dir, REPORT_FILES.markdown);
  writeFileSync(markdown, md);
  return { dir, html, markdown, charts: rendered };
}
