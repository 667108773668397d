// The map: a heatmap of the first axis (load) × the second (trigger size), each cell coloured by
// its class and linking to its run's report, with the boundary drawn between recovered cells and
// those that stayed down or came back late. Rendered to vega-lite / SVG / PNG by the report's own
// renderer; map.html (self-contained) and summary.md beside it.
import { writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { CONFIG, type VlSpec } from "../report/charts.js";
import { escapeHtml } from "../report/html.js";
import { svgSize } from "../report/render.js";
import { type RenderedChart, REPORT_FILES, renderCharts } from "../report/report.js";
import { CLASSES } from "./classify.js";
import { axisTitle, boundary, boundaryShift, type Cell, cells, columns, regionSentence, type Segment } from "./regions.js";
import type { SweepRecord } from "./record.js";

const COLOURS: Record<(typeof CLASSES)[number], string> = {
  recovered: "#54a24b",
  "recovered late": "#eeca3b",
  metastable: "#e45756",
  "setup did not hold": "#bab0ac",
  "no verdict": "#eeeeee",
};
const SHORT: Record<(typeof CLASSES)[number], string> = {
  recovered: "recovered",
  "recovered late": "late",
  metastable: "metastable",
  "setup did not hold": "setup failed",
  "no verdict": "no verdict",
};
const CELL_PX = 96;

/** One map's layers, for a sweep; `other` adds a second boundary, dashed (a comparison). Links are
 * the run folders as the record holds them (relative to the page). */
function mapView(r: SweepRecord, title: string, other?: { segments: Segment[]; name: string }): VlSpec {
  const [ax, ay] = r.axes;
  const nx = ax?.values.length ?? 1;
  const ny = ay?.values.length ?? 1;
  const cs = cells(r);
  const rows = cs.map((c) => ({
    x: c.xi - 0.5,
    x2: c.xi + 0.5,
    y: c.yi - 0.5,
    y2: c.yi + 0.5,
    cx: c.xi,
    cy: c.yi,
    class: c.class ?? "no verdict",
    label: `${c.class ? SHORT[c.class] : "not run"}${c.split ? " ±" : ""}`,
    sub: c.runs > 1 ? `${c.agree} of ${c.runs} runs` : c.recovered_after_s.length ? `back in ${c.recovered_after_s[0]} s` : "",
    href: c.dir ? `${c.dir}/report.html` : "",
    point: `${ax?.path}=${c.x}${ay ? `, ${ay.path}=${c.y}` : ""}`,
  }));
  const lines = boundary(cs);
  const labels = (vals: unknown[]) => `${JSON.stringify(vals.map(String))}[datum.value]`;
  // Only the first layer carries the axes: a later layer's `axis: null` would remove them.
  const q = (field: string, axis: VlSpec | null, domain: [number, number]) => ({
    field,
    type: "quantitative",
    scale: { domain, nice: false, zero: false },
    ...(axis ? { axis } : {}),
  });
  const xAxis = { title: ax ? axisTitle(ax.path) : "", values: [...Array(nx).keys()], labelExpr: labels(ax?.values ?? [""]), grid: false };
  const yAxis = { title: ay ? axisTitle(ay.path) : "", values: [...Array(ny).keys()], labelExpr: labels(ay?.values ?? [""]), grid: false };
  const xd: [number, number] = [-0.5, nx - 0.5];
  const yd: [number, number] = [-0.5, ny - 0.5];
  const rule = (data: Segment[], dash: number[], colour: string) => ({
    data: { values: data },
    mark: { type: "rule", strokeWidth: 4, strokeDash: dash, color: colour, strokeCap: "round" },
    encoding: { x: q("x", null, xd), x2: { field: "x2" }, y: q("y", null, yd), y2: { field: "y2" } },
  });
  return {
    title: {
      text: title,
      subtitle: [
        regionSentence(r),
        `black line: the boundary between recovered and stayed down or late${other ? `; dashed: ${other.name}'s boundary` : ""}`,
      ],
    },
    width: Math.max(CELL_PX * nx, 200),
    height: Math.max(CELL_PX * 0.7 * ny, 120),
    layer: [
      {
        data: { values: rows },
        mark: { type: "rect", stroke: "white", strokeWidth: 2, cursor: "pointer" },
        encoding: {
          x: q("x", xAxis, xd),
          x2: { field: "x2" },
          y: q("y", yAxis, yd),
          y2: { field: "y2" },
          color: {
            field: "class",
            type: "nominal",
            scale: { domain: [...CLASSES], range: CLASSES.map((c) => COLOURS[c]) },
            legend: { title: "class", orient: "right" },
          },
          href: { field: "href" },
          tooltip: [{ field: "point" }, { field: "class" }, { field: "sub", title: "detail" }],
        },
      },
      {
        data: { values: rows },
        mark: { type: "text", fontSize: 11, dy: -6 },
        encoding: { x: q("cx", null, xd), y: q("cy", null, yd), text: { field: "label" } },
      },
      {
        data: { values: rows },
        mark: { type: "text", fontSize: 10, dy: 8, color: "#333" },
        encoding: { x: q("cx", null, xd), y: q("cy", null, yd), text: { field: "sub" } },
      },
      ...(other?.segments.length ? [rule(other.segments, [6, 5], "#777")] : []),
      ...(lines.length ? [rule(lines, [], "#111")] : []),
    ],
  };
}

export function mapSpec(r: SweepRecord): VlSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: `metastability map of ${r.scenario}: each cell a sweep point coloured by class; the black line is the boundary between recovered and stayed-down cells`,
    config: CONFIG,
    ...mapView(r, `${r.scenario}: metastability map`),
  };
}

/** Two maps side by side, each with the other's boundary dashed. */
export function compareSpec(a: SweepRecord, b: SweepRecord): VlSpec {
  const ba = boundary(cells(a));
  const bb = boundary(cells(b));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: `metastability maps of ${a.scenario} and ${b.scenario} on the same grid; solid: each map's boundary, dashed: the other's`,
    config: CONFIG,
    hconcat: [mapView(a, a.scenario, { segments: bb, name: b.scenario }), mapView(b, b.scenario, { segments: ba, name: a.scenario })],
    resolve: { scale: { color: "shared" } },
  };
}

const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(1)} %`);

function gridTable(r: SweepRecord, link: (c: Cell) => string | null): string[] {
  const [ax, ay] = r.axes;
  const cs = cells(r);
  const ys = ay ? [...ay.values.keys()].reverse() : [0];
  const head = `| ${ay ? axisTitle(ay.path) : ""} \\ ${ax ? axisTitle(ax.path) : ""} | ${(ax?.values ?? []).map(String).join(" | ")} |`;
  const out = [head, `|---|${(ax?.values ?? []).map(() => "---").join("|")}|`];
  for (const yi of ys) {
    const row = (ax?.values ?? []).map((_, xi) => {
      const c = cs.find((x) => x.xi === xi && x.yi === yi);
      if (!c) return "";
      const text = `${c.class ?? "not run"}${c.split ? " ±" : ""}${c.runs > 1 ? ` (${c.agree} of ${c.runs} runs)` : ""}`;
      const href = link(c);
      return href ? `[${text}](${href})` : text;
    });
    out.push(`| ${ay ? String(ay.values[yi]) : ""} | ${row.join(" | ")} |`);
  }
  return out;
}

export function summaryMarkdown(r: SweepRecord, pngName: string): string {
  const done = r.points.filter((p) => p.class !== null).length;
  const lines = [
    `# Sweep: ${r.scenario}`,
    "",
    `Scenario \`${r.scenario_file}\`; grid ${r.axes.map((a) => `${a.path} = ${a.values.join(", ")}`).join(" × ")}; ${r.repeat} run(s) a point; ${done} of ${r.points.length} points recorded; ${Math.round(r.wall_s)} s of runs.`,
    ...(r.set.length ? ["", `Every point also sets: ${r.set.map((s) => `\`${s.path}=${s.value}\``).join(", ")}.`] : []),
    `Classes are judged by the SLO's recovery time (${r.recovery_limit_s ?? "-"} s): recovered within it, recovered late, metastable (still down at the end), setup did not hold, no verdict (never counted as recovered).`,
    "",
    `![map](${pngName})`,
    "",
    `**${regionSentence(r)}**`,
    "",
    ...columns(r).map((c) => `- ${c.sentence}`),
    "",
    ...gridTable(r, (c) => (c.dir ? `${c.dir}/report.html` : null)),
    "",
    "| point | values | class | runs: recovered after (s) · availability · primary · sustained by |",
    "|---|---|---|---|",
    ...r.points.map(
      (p) =>
        `| ${p.id} | ${p.values.join(", ")} | ${p.class ?? "not run"}${p.split ? " (split)" : ""} | ${p.runs
          .map(
            (x) =>
              `${x.class}: ${x.figures.recovered_after_s ?? "-"} · ${pct(x.figures.availability)} · ${x.figures.primary ?? "-"} · ${x.figures.sustained_by?.split(" (")[0] ?? x.figures.note ?? "-"}`,
          )
          .join("<br>")} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

const PAGE_STYLE = `body{font:15px/1.5 "Liberation Sans",Arial,sans-serif;color:#1d1d1f;margin:0;background:#fafafa}
main{max-width:1320px;margin:0 auto;padding:24px 32px 48px;background:#fff}h1{font-size:24px;margin:0 0 4px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ddd;padding:4px 10px;text-align:center;font-size:13px}
.meta{color:#555;font-size:13px}`;

function page(title: string, meta: string, svg: string, sentences: string[], table: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>${PAGE_STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1><p class="meta">${escapeHtml(meta)}</p>
<div class="map" style="width:${Math.round(svgSize(svg).width * 1.5)}px;max-width:100%">${svg.replace("<svg ", '<svg style="width:100%;height:auto" ')}</div>
${sentences.map((s) => `<p>${escapeHtml(s)}</p>`).join("\n")}
${table}
</main></body></html>
`;
}

function htmlTable(r: SweepRecord, link: (c: Cell) => string | null): string {
  const [ax, ay] = r.axes;
  const cs = cells(r);
  const ys = ay ? [...ay.values.keys()].reverse() : [0];
  const head = `<tr><th>${escapeHtml(ay ? axisTitle(ay.path) : "")} \\ ${escapeHtml(ax ? axisTitle(ax.path) : "")}</th>${(ax?.values ?? []).map((v) => `<th>${escapeHtml(v)}</th>`).join("")}</tr>`;
  const body = ys.map((yi) => {
    const tds = (ax?.values ?? []).map((_, xi) => {
      const c = cs.find((x) => x.xi === xi && x.yi === yi);
      const cls = c?.class ?? "no verdict";
      const text = escapeHtml(`${c?.class ?? "not run"}${c?.split ? " ±" : ""}`);
      const href = c ? link(c) : null;
      return `<td style="background:${COLOURS[cls]}">${href ? `<a href="${escapeHtml(href)}">${text}</a>` : text}</td>`;
    });
    return `<tr><th>${escapeHtml(ay ? ay.values[yi] : "")}</th>${tds.join("")}</tr>`;
  });
  return `<table>${head}${body.join("")}</table>`;
}

export interface MapOutput {
  png: string;
  svg: string;
  html: string;
  markdown: string;
  chart: RenderedChart;
}

/** charts/map.{vl.json,svg,png}, map.html and summary.md in the sweep folder. */
export async function writeMap(dir: string, r: SweepRecord): Promise<MapOutput> {
  const spec = mapSpec(r);
  const [chart] = await renderCharts(dir, [{ chart: { name: "map", title: "metastability map" }, spec }], { svg: 0, png: 0 });
  const c = chart as RenderedChart;
  const svg = c.svg;
  const html = join(dir, "map.html");
  writeFileSync(
    html,
    page(
      `Sweep: ${r.scenario}`,
      `${r.scenario_file} · ${r.axes.map((a) => `${a.path} = ${a.values.join(", ")}`).join(" × ")} · ${r.repeat} run(s) a point · click a cell for its run's report`,
      svg,
      [regionSentence(r), ...columns(r).map((x) => x.sentence)],
      htmlTable(r, (x) => (x.dir ? `${x.dir}/report.html` : null)),
    ),
  );
  const markdown = join(dir, REPORT_FILES.markdown);
  writeFileSync(markdown, summaryMarkdown(r, c.files.png));
  return { png: join(dir, c.files.png), svg: join(dir, c.files.svg), html, markdown, chart: c };
}

/** Two sweeps over the same grid: compare.png (both maps, each with the other's boundary dashed),
 * compare.html and summary.md with the boundary's shift along the first axis. */
export async function writeSweepCompare(
  out: string,
  a: { dir: string; record: SweepRecord },
  b: { dir: string; record: SweepRecord },
): Promise<{ png: string; html: string; markdown: string; shift: string[] }> {
  const ra = withDirs(a.record, relative(out, a.dir));
  const rb = withDirs(b.record, relative(out, b.dir));
  const spec = compareSpec(ra, rb);
  const [chart] = await renderCharts(out, [{ chart: { name: "compare", title: "maps compared" }, spec }], { svg: 0, png: 0 });
  const c = chart as RenderedChart;
  const shift = boundaryShift(ra, rb, [a.record.scenario, b.record.scenario]);
  const svg = c.svg;
  const title = `Sweeps compared: ${a.record.scenario} vs ${b.record.scenario}`;
  const link = (x: Cell) => (x.dir ? `${x.dir}/report.html` : null);
  const html = join(out, "compare.html");
  writeFileSync(
    html,
    page(
      title,
      `solid line: each map's own boundary; dashed: the other map's`,
      svg,
      [regionSentence(ra), regionSentence(rb), ...shift],
      [ra, rb].map((x) => `<h3>${escapeHtml(x.scenario)}</h3>${htmlTable(x, link)}`).join("\n"),
    ),
  );
  const markdown = join(out, REPORT_FILES.markdown);
  writeFileSync(
    markdown,
    [
      `# ${title}`,
      "",
      `![maps](${c.files.png})`,
      "",
      `${a.record.scenario}: ${regionSentence(ra)}`,
      "",
      `${b.record.scenario}: ${regionSentence(rb)}`,
      "",
      ...shift.map((s) => `- ${s}`),
      "",
      `## ${a.record.scenario}`,
      "",
      ...gridTable(ra, link),
      "",
      `## ${b.record.scenario}`,
      "",
      ...gridTable(rb, link),
      "",
    ].join("\n"),
  );
  return { png: join(out, c.files.png), html, markdown, shift };
}

/** The record with each run folder relative to another folder (links from a comparison). */
function withDirs(r: SweepRecord, prefix: string): SweepRecord {
  return { ...r, points: r.points.map((p) => ({ ...p, runs: p.runs.map((x) => ({ ...x, dir: join(prefix, x.dir) })) })) };
}
