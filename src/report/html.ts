// report.html: one self-contained page. The vega, vega-lite and vega-embed bundles are inlined
// from node_modules and the specs carry their data, so the file opens from disk with no network
// (a Content-Security-Policy forbids any fetch). Every text that comes from a scenario, a fault,
// a container or an event goes through escapeHtml; specs are embedded as JSON with '<' escaped,
// and the page script only hands parsed specs to vega-embed (vega draws text as text nodes, and
// its tooltips escape HTML).
import { bundle } from "./bundles.js";
import type { Chart, VlSpec } from "./charts.js";
import type { ReportModel } from "./model.js";
import {
  MECHANISM_TITLES,
  evidence,
  mechanismSentences,
  type ObjectiveRow,
  objectiveRows,
  pathSentences,
  recoverySentence,
  setupSentences,
  verdictWord,
} from "./narrative.js";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text → HTML text or attribute value. Everything not written by this module goes through it. */
export function escapeHtml(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** JSON for a <script type="application/json"> block: nothing in it can close the element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

let bundles: string | undefined;

/** The minified browser bundles, inlined: vega, then vega-lite, then vega-embed (which carries vega-tooltip). */
function inlineBundles(): string {
  if (bundles) return bundles;
  bundles = (["vega", "vega-lite", "vega-embed"] as const)
    .map((pkg) => {
      const { code, version } = bundle(pkg);
      if (/<\/script|<!--/i.test(code)) throw new Error(`${pkg}'s bundle cannot be inlined in a <script> element`);
      return `<script>/* ${pkg} ${version} */\n${code}\n</script>`;
    })
    .join("\n");
  return bundles;
}

const STYLE = `
:root { color-scheme: light; }
body { font: 15px/1.5 "Liberation Sans", Arial, Helvetica, sans-serif; color: #1d1d1f; margin: 0; background: #fafafa; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid #e5e5e5; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 24px 0 2px; }
.meta, .caption, .files { color: #555; font-size: 13px; margin: 2px 0; }
.verdict { border-left: 6px solid #888; background: #f4f4f4; padding: 12px 16px; margin: 16px 0; }
.verdict.cascade { border-color: #c62828; background: #fdecec; } .verdict.setup-did-not-hold { border-color: #ef8f00; background: #fff4e0; } .verdict.no-cascade { border-color: #2e7d32; background: #eaf5ea; } .verdict.degraded-during-the-fault { border-color: #b7950b; background: #fdf8e1; }
.gate { font-weight: bold; font-size: 16px; padding: 8px 12px; border-radius: 4px; }
.gate.pass { background: #eaf5ea; color: #1b5e20; } .gate.fail { background: #fdecec; color: #b71c1c; }
.waived { color: #666; font-style: italic; }
.verdict .word { font-size: 22px; font-weight: bold; letter-spacing: .02em; }
.verdict p { margin: 6px 0 0; }
ol.path { margin: 4px 0; padding-left: 24px; } ul.plain { margin: 4px 0; padding-left: 20px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #2e7d32; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
.chart { margin: 8px 0 28px; } .vis { overflow-x: auto; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
footer { color: #777; font-size: 12px; margin-top: 40px; }
code { font-size: 13px; }
`;

const BOOT = `
(function () {
  var options = { renderer: "svg", actions: { export: true, source: false, compiled: false, editor: false } };
  var blocks = document.querySelectorAll("[data-spec]");
  var pending = blocks.length;
  blocks.forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
    vegaEmbed(el, spec, options).then(function () {
      el.setAttribute("data-rendered", "true");
    }).catch(function (e) {
      el.setAttribute("data-error", "true");
      el.textContent = "This chart could not be drawn: " + (e && e.message ? e.message : e);
      console.error(e);
    }).finally(function () {
      if (--pending === 0) document.body.setAttribute("data-charts", "done");
    });
  });
})();
`;

export interface PageChart {
  id: string;
  title: string;
  caption: string;
  spec: VlSpec;
  /** relative links to the exported files, e.g. [["PNG", "charts/load.png"], …] */
  files: Array<[string, string]>;
}

/** The page around a body: styles, the inlined bundles, every spec as JSON, and the script that draws them. */
export function page(title: string, body: string, charts: PageChart[]): string {
  const csp =
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
${charts.map((c) => `<script type="application/json" id="spec-${escapeHtml(c.id)}">${scriptJson(c.spec)}</script>`).join("\n")}
${inlineBundles()}
<script>${BOOT}</script>
</body>
</html>
`;
}

export function chartSection(c: PageChart): string {
  const files = c.files.map(([label, href]) => `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`).join(" · ");
  // The chart draws its own title; the caption under it says what to read in it.
  return `<section class="chart" id="chart-${escapeHtml(c.id)}" aria-label="${escapeHtml(c.title)}">
<div class="vis" data-spec="spec-${escapeHtml(c.id)}"></div>
<p class="caption">${escapeHtml(c.caption)}</p>
<p class="files">${files}</p>
</section>`;
}

export function table(head: string[], rows: string[][], numeric: number[] = []): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  // Cells arrive already escaped (some carry markup made here, like pass/FAIL).
  const tr = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ""}>${c}</td>`).join("")}</tr>`);
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr.join("")}</tbody></table>`;
}

const passCell = (pass: boolean) => (pass ? '<span class="pass">pass</span>' : '<span class="fail">FAIL</span>');
const resultCell = (r: ObjectiveRow["result"]) =>
  r === "missed, waived" ? '<span class="waived">missed, waived</span>' : passCell(r === "pass");

/** Verdict, path, mechanisms and recovery of one run: the top of a report, and one column of a comparison. */
export function verdictBlock(m: ReportModel, heading = "h2"): string {
  const a = m.analysis;
  const cls = a.verdict.replace(/ /g, "-");
  const reasons = a.reasons.length ? `<ul class="plain">${a.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join("")}</ul>` : "";
  const path = pathSentences(a);
  return `<div class="verdict ${escapeHtml(cls)}"><span class="word">${escapeHtml(verdictWord(a))}</span>
<p>${escapeHtml(a.summary)}</p>${reasons}</div>
${
  a.setup
    ? `<ul class="plain setup">${setupSentences(a)
        .map((s) => `<li>${escapeHtml(s)}</li>`)
        .join("")}</ul>`
    : ""
}
<${heading}>Causal path</${heading}>
${path.length ? `<ol class="path">${path.map((s) => `<li>${escapeHtml(s)}</li>`).join("")}</ol>` : "<p>No fault was applied, so there is no path to follow.</p>"}
<${heading}>Mechanisms</${heading}>
<ul class="plain">${mechanismSentences(a)
    .map((s) => `<li>${escapeHtml(s)}</li>`)
    .join("")}</ul>
<p>${escapeHtml(recoverySentence(a))}</p>`;
}

export function objectivesTable(m: ReportModel): string {
  const rows = objectiveRows(m.analysis);
  if (!rows.length) return "<p>The scenario declares no SLO objective and no expectation.</p>";
  return table(
    ["", "objective", "target", "measured", "result"],
    rows.map((r) => [escapeHtml(r.kind), escapeHtml(r.name), escapeHtml(r.target), escapeHtml(r.measured), resultCell(r.result)]),
  );
}

export function reportHtml(m: ReportModel, charts: Array<{ chart: Chart; spec: VlSpec; files: Array<[string, string]> }>): string {
  const sc = m.run.scenario;
  const a = m.analysis;
  const pageCharts: PageChart[] = charts.map(({ chart, spec, files }) => ({
    id: chart.name,
    title: chart.title,
    caption: chart.caption,
    spec,
    files,
  }));
  const meta = [
    `run ${m.meta.id}`,
    m.meta.status ? `status ${m.meta.status}` : "",
    m.meta.started ? `started ${m.meta.started}` : "",
    `${m.series.seconds} s of load recorded`,
    `${sc.faults.length} fault(s) in the scenario`,
  ].filter(Boolean);
  const gaps = Object.entries(a.gaps);
  const body = `<header>
<h1>Cascade report: ${escapeHtml(sc.name)}</h1>
${sc.description ? `<p>${escapeHtml(sc.description)}</p>` : ""}
<p class="meta">${meta.map(escapeHtml).join(" · ")}</p>
${m.meta.error ? `<p class="meta fail">${escapeHtml(m.meta.error)}</p>` : ""}
</header>
${a.gate ? `<p class="gate ${a.gate.pass ? "pass" : "fail"}">${escapeHtml(a.gate.line)}</p>` : ""}
${verdictBlock(m)}
<h2>SLO and expectations</h2>
${objectivesTable(m)}
<h2>Charts</h2>
${pageCharts.map(chartSection).join("\n")}
<h2>Evidence per mechanism</h2>
${table(
  ["mechanism", "role", "score", "finding", "numbers", "measured by"],
  evidence(a).map((e) => [
    escapeHtml(MECHANISM_TITLES[e.m.name] ?? e.m.name),
    escapeHtml(e.role),
    escapeHtml(e.m.score.toFixed(2)),
    escapeHtml(e.m.finding),
    e.numbers.map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(v)}`).join("<br>"),
    (e.m.sources ?? []).map(escapeHtml).join("<br>"),
  ]),
  [2],
)}
<h2>Timeline</h2>
${
  m.timeline.length
    ? table(
        ["second", "source", "what", "detail"],
        m.timeline.map((r) => [escapeHtml(r.t.toFixed(1)), escapeHtml(r.source), escapeHtml(r.what), escapeHtml(r.detail)]),
        [0],
      )
    : "<p>No fault or container event was recorded.</p>"
}
${gaps.length ? `<p class="meta">Missing readings: ${escapeHtml(gaps.map(([s, n]) => `${s} ${n} s`).join(", "))}.</p>` : ""}
<footer>Generated by <code>cascade report</code> from the run folder. Each chart is also in <code>charts/</code> as PNG, SVG and its vega-lite spec.</footer>`;
  return page(`Cascade report: ${sc.name} (${verdictWord(a)})`, body, pageCharts);
}
