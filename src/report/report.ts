// The report of a run, written into its folder: report.html (self-contained, interactive),
// summary.md (PR comment / CI job summary), and charts/<name>.{vl.json,svg,png}. Everything is
// regenerated from what the run folder holds, so `cascade report <run>` gives the same files as
// the end of the run did.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type VlSpec, chartSpec, chartsOf } from "./charts.js";
import { reportHtml } from "./html.js";
import { summaryMarkdown } from "./markdown.js";
import { type ReportModel, loadModel } from "./model.js";
import { saveCompiledBundles } from "./bundles.js";
import { rasterizeWaiting, renderSpecPipelined, warmRasterizer } from "./render.js";

export const REPORT_FILES = {
  html: "report.html",
  markdown: "summary.md",
  charts: "charts",
} as const;

export interface RenderedChart {
  name: string;
  title: string;
  spec: VlSpec;
  /** paths relative to the report folder */
  files: { spec: string; svg: string; png: string };
  /** the SVG's text, as written to files.svg */
  svg: string;
  width: number;
  height: number;
}

export interface ReportOutput {
  dir: string;
  html: string;
  markdown: string;
  charts: RenderedChart[];
  /** time spent per stage, ms */
  timings: {
    model: number;
    specs: number;
    /** making every SVG, one after another */
    svg: number;
    /** after the last SVG: drawing the PNGs the rasterizer thread had not reached, and waiting
     * for the rest (they rasterize in parallel with the SVGs); the HTML and Markdown not counted */
    png: number;
    html: number;
    markdown: number;
    total: number;
  };
}

/** A spec as JSON people can edit: the spec indented, each data row on one line. */
export function specJson(spec: VlSpec): string {
  const { datasets, ...rest } = spec as { datasets?: Record<string, unknown[]> };
  const head = JSON.stringify(rest, null, 2);
  if (!datasets) return `${head}\n`;
  const data = Object.entries(datasets)
    .map(([name, rows]) => `    ${JSON.stringify(name)}: [\n${rows.map((r) => `      ${JSON.stringify(r)}`).join(",\n")}\n    ]`)
    .join(",\n");
  return `${head.slice(0, -2)},\n  "datasets": {\n${data}\n  }\n}\n`;
}

/** Where a chart's files go, relative to the report folder. */
export const chartFiles = (name: string): RenderedChart["files"] => ({
  spec: `${REPORT_FILES.charts}/${name}.vl.json`,
  svg: `${REPORT_FILES.charts}/${name}.svg`,
  png: `${REPORT_FILES.charts}/${name}.png`,
});

/** Renders each chart to SVG, then PNG (rasterized in the background while the next SVG is made),
 * into <dir>/charts; returns them with their specs once every PNG is written. `meanwhile` runs
 * after the last SVG, while the last PNGs rasterize. */
export async function renderCharts(
  dir: string,
  charts: Array<{ chart: { name: string; title: string }; spec: VlSpec }>,
  timings: { svg: number; png: number },
  meanwhile?: () => void,
): Promise<RenderedChart[]> {
  mkdirSync(join(dir, REPORT_FILES.charts), { recursive: true });
  const jobs: Array<Promise<RenderedChart>> = [];
  // the spec and SVG files are written once the last SVG is made, while the last PNGs rasterize
  const later: Array<() => void> = [];
  for (const { chart, spec } of charts) {
    const files = chartFiles(chart.name);
    const r = await renderSpecPipelined(spec);
    timings.svg += r.svgMs;
    if (r.warnings.length) process.emitWarning(`chart ${chart.name}: ${r.warnings.join("; ")}`);
    later.push(() => {
      writeFileSync(join(dir, files.spec), specJson(spec));
      writeFileSync(join(dir, files.svg), r.svg);
    });
    jobs.push(
      r.png.then(({ png, width, height }) => {
        writeFileSync(join(dir, files.png), png);
        return { name: chart.name, title: chart.title, spec, files, svg: r.svg, width, height };
      }),
    );
  }
  // A failed chart fails the report however far the others got.
  const all = Promise.all(jobs);
  all.catch(() => {});
  // This thread is free now: it draws the charts the rasterizer has not reached, then the pages.
  let t = performance.now();
  rasterizeWaiting();
  timings.png += performance.now() - t;
  for (const write of later) write();
  saveCompiledBundles();
  meanwhile?.();
  t = performance.now();
  const out = await all;
  timings.png += performance.now() - t;
  return out;
}

/** Writes the report of a model into `dir` (the run folder). */
export async function renderReport(model: ReportModel, dir: string, started = performance.now()): Promise<ReportOutput> {
  const timings = { model: performance.now() - started, specs: 0, svg: 0, png: 0, html: 0, markdown: 0, total: 0 };
  const t = performance.now();
  const charts = chartsOf(model).map((chart) => ({ chart, spec: chartSpec(chart, model) }));
  timings.specs = performance.now() - t;
  // The page and the summary name the chart files; they are written while the last PNGs rasterize.
  const pages = () => {
    let t = performance.now();
    const html = reportHtml(
      model,
      charts.map(({ chart, spec }) => {
        const f = chartFiles(chart.name);
        return { chart, spec, files: [["PNG", f.png] as [string, string], ["SVG", f.svg], ["vega-lite spec", f.spec]] };
      }),
    );
    writeFileSync(join(dir, REPORT_FILES.html), html);
    timings.html = performance.now() - t;
    t = performance.now();
    const md = summaryMarkdown(
      model,
      charts.map(({ chart }) => ({ title: chart.title, png: chartFiles(chart.name).png })),
    );
    writeFileSync(join(dir, REPORT_FILES.markdown), md);
    timings.markdown = performance.now() - t;
  };
  const rendered = await renderCharts(dir, charts, timings, pages);
  timings.total = performance.now() - started;
  return { dir, html: join(dir, REPORT_FILES.html), markdown: join(dir, REPORT_FILES.markdown), charts: rendered, timings };
}

/** Reads a run folder and writes its report next to the record, or into `out`. */
export async function writeReport(dir: string, out = dir): Promise<ReportOutput> {
  const started = performance.now();
  warmRasterizer(); // its thread starts while the run is read
  let model: ReportModel;
  try {
    model = loadModel(dir);
  } catch (e) {
    throw new Error(`report: ${(e as Error).message}`);
  }
  mkdirSync(out, { recursive: true });
  return renderReport(model, out, started);
}
