// The report of a recorded run: every chart rendered headless to SVG and PNG (valid, the expected
// size, real content), the vega-lite specs, summary.md, the self-contained report.html, escaping
// of text that comes from scenarios, faults and containers, and the compare view.
import { execFile } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_POINTS, PLOT_WIDTH, bucketOf, chartsOf, timeTitle, wide } from "../../src/report/charts.js";
import { writeCompare } from "../../src/report/compare.js";
import { escapeHtml, scriptJson } from "../../src/report/html.js";
import { escapeMarkdown } from "../../src/report/markdown.js";
import { loadModel } from "../../src/report/model.js";
import { PNG_SCALE, rasterizeWaiting, renderSpec, svgSize, svgToPng, svgToPngAsync } from "../../src/report/render.js";
import { REPORT_FILES, type ReportOutput, writeReport } from "../../src/report/report.js";
import { XSS, XSS_IMG, copyRun, markupRun, pixelStats, readPng } from "./report-helpers.js";

const CHARTS = ["load", "latency", "dependencies", "saturation", "amplification"];

/** The page without the inlined library bundles (their code mentions <img> and URLs of its own). */
const ownMarkup = (html: string) => html.replace(/<script>\/\* vega[\s\S]*?<\/script>/g, "");

describe("report of the recorded run", () => {
  let dir: string;
  let out: ReportOutput;
  beforeAll(async () => {
    dir = copyRun();
    out = await writeReport(dir);
  }, 60_000);

  it("renders every chart to a valid PNG of the SVG's size, with real content", () => {
    expect(out.charts.map((c) => c.name)).toEqual(CHARTS);
    for (const c of out.charts) {
      const file = readFileSync(join(dir, c.files.png));
      const png = readPng(file); // signature, IHDR, IDAT that inflates to exactly width × height
      const svg = svgSize(readFileSync(join(dir, c.files.svg), "utf8"));
      // The expected size: the SVG vega laid out, at the PNG scale.
      expect([png.width, png.height], c.name).toEqual([Math.round(svg.width * PNG_SCALE), Math.round(svg.height * PNG_SCALE)]);
      expect([c.width, c.height]).toEqual([png.width, png.height]);
      expect(svg.width, c.name).toBeGreaterThan(PLOT_WIDTH);
      expect(svg.width, c.name).toBeLessThan(PLOT_WIDTH + 450);
      expect(svg.height, c.name).toBeGreaterThan(250);
      const st = pixelStats(png);
      expect(st.colors, `${c.name}: distinct colours`).toBeGreaterThan(50);
      expect(st.ink / st.pixels, `${c.name}: share of non-white pixels`).toBeGreaterThan(0.02);
      expect(st.ink / st.pixels, `${c.name}: share of non-white pixels`).toBeLessThan(0.6);
    }
  });

  it("shades the fault windows and labels them", () => {
    const load = out.charts.find((c) => c.name === "load")!;
    // #e45756 at 12 % over white; the two windows (6-11 s, 14-20.7 s) cover a good part of the plot.
    const st = pixelStats(readPng(readFileSync(join(dir, load.files.png))), [252, 235, 235], 3);
    expect(st.close / st.pixels).toBeGreaterThan(0.03);
    const svg = readFileSync(join(dir, load.files.svg), "utf8");
    expect(svg).toContain("slow-cache");
    expect(svg).toContain("kill-cache → start-cache");
    expect(svg).toContain("seconds since load start");
  });

  it("writes each vega-lite spec as JSON that compiles without warnings", async () => {
    for (const c of out.charts) {
      const spec = JSON.parse(readFileSync(join(dir, c.files.spec), "utf8")) as Record<string, unknown>;
      expect(spec.$schema).toBe("https://vega.github.io/schema/vega-lite/v6.json");
      expect(Object.keys(spec.datasets as object).length).toBeGreaterThan(1);
      const again = await renderSpec(spec);
      expect(again.warnings, c.name).toEqual([]);
      expect(again.svg).toBe(readFileSync(join(dir, c.files.svg), "utf8"));
    }
  });

  it("says what the latency chart needs: percentiles on a log scale with the client deadline", () => {
    const spec = readFileSync(join(dir, "charts/latency.vl.json"), "utf8");
    expect(spec).toContain('"type": "log"');
    for (const p of ["p50", "p95", "p99", "max"]) expect(spec).toContain(`"${p}"`);
    expect(readFileSync(join(dir, "charts/latency.svg"), "utf8")).toContain("client deadline 2000 ms");
    expect(readFileSync(join(dir, "charts/saturation.svg"), "utf8")).toMatch(/died[\s\S]*started/);
  });

  it("writes summary.md with the gate, the verdict, the mechanisms with their numbers, the SLO table and where the charts are", () => {
    const md = readFileSync(join(dir, REPORT_FILES.markdown), "utf8");
    expect(md).toMatch(/^## Cascade: docker-foundation — CASCADE/);
    expect(md).toContain("**Causal path**");
    expect(md).toContain("At 14 s the fault kill-cache (kill) was applied to cache.");
    expect(md).toMatch(/Primary mechanism: load shift onto a dependency \(score 1\.00\)/);
    expect(md).toMatch(
      /\| load shift onto a dependency \| primary \| 1\.00 \| .*db load multiple 5\.1 · .* · window after kill-cache \(14-20 s\) \| cache hits: cache \(memcached get\\_hits\); .* \|/,
    );
    expect(md).toContain("### SLO and expectations");
    expect(md).toMatch(/^\*\*gate: PASS — cascade; nothing declared to check \(no slo: or expect:\) \(exit 0\)\*\*$/m);
    // A job summary cannot show the run folder's files: no image or link to a relative path.
    expect(md).not.toMatch(/!?\[[^\]]*\]\((?!https?:)[^)]*\)/);
    for (const c of CHARTS) {
      expect(md).toContain(`| \`charts/${c}.png\` |`);
      expect(existsSync(join(dir, "charts", `${c}.png`))).toBe(true);
    }
  });

  it("writes report.html: verdict and path first, then the SLO table, then the charts, with nothing to fetch", () => {
    const html = readFileSync(join(dir, REPORT_FILES.html), "utf8");
    const at = (s: string) => html.indexOf(s);
    expect(at("CASCADE")).toBeGreaterThan(0);
    expect(at("CASCADE")).toBeLessThan(at("Causal path"));
    expect(at("Causal path")).toBeLessThan(at("SLO and expectations"));
    expect(at("SLO and expectations")).toBeLessThan(at('id="chart-load"'));
    for (const c of CHARTS) expect(html).toContain(`data-spec="spec-${c}"`);
    // Self-contained: no external script, stylesheet, image or frame; a CSP that forbids fetching.
    const page = ownMarkup(html);
    expect(/<script[^>]+src=/i.test(page)).toBe(false);
    expect(/<link\b/i.test(page)).toBe(false);
    expect(/<(img|iframe)\b/i.test(page)).toBe(false);
    expect(html).toContain("default-src 'none'");
    expect(html).toContain("connect-src 'none'");
    // The three bundles are inlined.
    for (const pkg of ["vega", "vega-lite", "vega-embed"]) expect(html).toMatch(new RegExp(`/\\* ${pkg} \\d+\\.\\d+\\.\\d+ \\*/`));
  });

  it("uses analysis.json when the run folder has one", async () => {
    const again = copyRun();
    const { analyze, checkExpectations } = await import("../../src/analyze/analyze.js");
    const { readRun } = await import("../../src/analyze/stored.js");
    const run = readRun(again);
    const analysis = analyze(run);
    analysis.expectations = checkExpectations(analysis, run.scenario);
    analysis.summary = "Stored summary from analysis.json.";
    writeFileSync(join(again, "analysis.json"), JSON.stringify(analysis));
    await writeReport(again);
    expect(readFileSync(join(again, REPORT_FILES.html), "utf8")).toContain("Stored summary from analysis.json.");
    expect(readFileSync(join(again, REPORT_FILES.markdown), "utf8")).toContain("Stored summary from analysis.json.");
  }, 30_000);
});

describe("long runs", () => {
  it("a 30-minute series is drawn in at most MAX_POINTS rows, keeping a one-second spike and dip at their heights", () => {
    const seconds = 1800;
    const col = Array.from({ length: seconds }, (_, t) => (t === 1001 ? 950 : t === 1444 ? 0 : 50 + (t % 7)));
    const rows = wide(seconds, [["v", col]]);
    expect(rows.length).toBeLessThanOrEqual(MAX_POINTS + 2);
    const values = rows.map((r) => r.v as number);
    expect(Math.max(...values)).toBe(950);
    expect(Math.min(...values)).toBe(0);
    // Rows stay in time order, and the spike sits in the bucket that holds second 1001.
    expect(rows.map((r) => r.t)).toEqual([...rows.map((r) => r.t)].sort((a, b) => a - b));
    const spike = rows.find((r) => r.v === 950) as { t: number };
    expect(Math.abs(spike.t - 1001)).toBeLessThanOrEqual(bucketOf(seconds));
  });

  it("a 2-second outage of a 30-minute run still reaches zero, in its bucket, on a line that is otherwise never below 40", () => {
    const seconds = 1800;
    const goodput = Array.from({ length: seconds }, (_, t) => (t === 700 || t === 701 ? 0 : 40 + (t % 11)));
    const rows = wide(seconds, [["ok", goodput]]);
    const zeros = rows.filter((r) => r.ok === 0);
    expect(zeros.length).toBeGreaterThan(0);
    for (const r of zeros) expect(Math.abs(r.t - 700)).toBeLessThanOrEqual(bucketOf(seconds));
    expect(rows.filter((r) => r.ok !== 0).every((r) => (r.ok as number) >= 40)).toBe(true);
  });

  it("a run of MAX_POINTS seconds or fewer is drawn second by second, values untouched", () => {
    const col = Array.from({ length: MAX_POINTS }, (_, t) => (t === 123 ? 950.5 : t === 200 ? null : (t * 37) % 101));
    const rows = wide(MAX_POINTS, [["v", col]]);
    expect(bucketOf(MAX_POINTS)).toBe(1);
    expect(rows.map((r) => r.t)).toEqual(col.map((_, t) => t));
    expect(rows.map((r) => r.v ?? null)).toEqual(col);
    expect(bucketOf(MAX_POINTS + 1)).toBeGreaterThan(1);
  });

  it("a downsampled chart says so in its time axis' title; a short one does not", () => {
    expect(timeTitle(bucketOf(1800))).toBe("seconds since load start (lines: the lowest and highest second of every 12 s)");
    expect(timeTitle(bucketOf(60))).toBe("seconds since load start");
  });

  it("solid lines carry no dash pattern (a 1,0 dash made resvg cut every line into 1-pixel dashes: ~2× the raster time)", async () => {
    const dir = copyRun();
    const out = await writeReport(dir);
    for (const c of out.charts) {
      const svg = readFileSync(join(dir, c.files.svg), "utf8");
      const dashes = [...svg.matchAll(/stroke-dasharray="([^"]*)"/g)].map((m) => m[1] as string);
      expect(
        dashes.filter(
          (d) =>
            d !== "" &&
            d
              .split(",")
              .slice(1)
              .every((gap) => Number(gap) === 0),
        ),
        c.name,
      ).toEqual([]);
    }
  }, 60_000);
});

describe("the rasterizer thread", () => {
  it("turns an SVG into a PNG of its size × scale, and says which chart failed instead of hanging on a broken one", async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#ff0000"/></svg>';
    const ok = readPng((await svgToPngAsync(svg, 2)).png);
    expect([ok.width, ok.height]).toEqual([80, 40]);
    expect(pixelStats(ok, [255, 0, 0], 1).close).toBe(80 * 40);
    await expect(svgToPngAsync("<svg not closed", 1)).rejects.toThrow(/chart rasterizer: /);
    // the thread is still there for the next chart
    expect(readPng((await svgToPngAsync(svg, 1)).png).width).toBe(40);
  });

  it("while the thread is busy, the main thread draws the charts still waiting, byte for byte as the thread would", async () => {
    // a slow chart for the thread: many long antialiased strokes at scale 3
    const paths = Array.from({ length: 400 }, (_, i) => {
      const pts = Array.from({ length: 200 }, (_, x) => `${x * 6},${300 + Math.round(250 * Math.sin((x + i) / 7))}`).join(" L");
      return `<path d="M${pts}" stroke="#4c78a8" stroke-width="1.6" fill="none"/>`;
    });
    const slow = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="600">${paths.join("")}</svg>`;
    const small = (c: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30"><rect width="60" height="30" fill="${c}"/><text x="4" y="20" font-size="12">${c}</text></svg>`;
    const first = svgToPngAsync(slow, 3);
    const rest = ["#ff0000", "#00aa00", "#0000ff"].map((c) => ({ c, png: svgToPngAsync(small(c), 2) }));
    // as soon as the thread has taken the slow chart, this thread draws what waits behind it
    let drawn = 0;
    const until = Date.now() + 10_000;
    while (drawn === 0 && Date.now() < until) {
      drawn = rasterizeWaiting();
      if (!drawn) await new Promise((r) => setTimeout(r, 2));
    }
    expect(drawn).toBeGreaterThan(0);
    expect(readPng((await first).png).width).toBe(3600);
    for (const { c, png } of rest) expect((await png).png.equals(svgToPng(small(c), 2).png), c).toBe(true);
    // nothing left waiting, and the thread goes on with the next chart
    expect(rasterizeWaiting()).toBe(0);
    expect(readPng((await svgToPngAsync(small("#123456"), 1)).png).width).toBe(60);
  }, 30_000);
});

describe("amplification over time", () => {
  it("counts each user request once: HAProxy's count of the same requests is not added to the app's", () => {
    // the retry-storm app makes one database call per read; with HAProxy's requests added it read 0.5
    const m = loadModel(fileURLToPath(new URL("../fixtures/runs/retry-storm-metastable", import.meta.url)));
    // HAProxy in front counts every request the app serves (this fixture predates its counter)
    const { app, lb } = m.series.services as Record<string, Array<Record<string, number | null>>>;
    expect(m.series.kinds.lb).toBe("haproxy");
    lb?.forEach((r, t) => {
      r.requests_per_s = app?.[t]?.requests_per_s ?? null;
    });
    const panel = chartsOf(m).find((c) => c.name === "amplification")?.panels[0];
    const key = panel?.series.find((d) => d.name === "database calls per request")?.key as string;
    const baseline = (panel?.rows ?? []).filter((r) => r.t >= 2 && r.t < 8).map((r) => r[key]);
    expect(baseline).toEqual([1, 1, 1, 1, 1, 1]);
  });
});

describe("container events", () => {
  it("marks deaths, OOM kills and restarts per replica, and the specs still compile without warnings", async () => {
    const dir = copyRun();
    const at = (s: number) => new Date(Date.parse("2026-11-23T11:05:48.888Z") + s * 1000).toISOString();
    const lines = [1, 2].flatMap((replica) => [
      { type: "container", time: at(25.2), service: "app", replica, action: "oom" },
      { type: "container", time: at(25.3), service: "app", replica, action: "die", exitCode: 137 },
      { type: "container", time: at(26.5), service: "app", replica, action: "start" },
    ]);
    appendFileSync(join(dir, "events.ndjson"), `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const out = await writeReport(dir);
    const saturation = out.charts.find((c) => c.name === "saturation")!;
    const marks = (
      saturation.spec as { vconcat: Array<{ layer?: Array<{ data?: { values?: Array<{ what: string; replica: number }> } }> }> }
    ).vconcat
      .flatMap((v) => v.layer ?? [])
      .flatMap((l) => l.data?.values ?? [])
      .filter((v) => v.what !== undefined);
    expect(marks.filter((m) => m.what === "OOM kill").map((m) => m.replica)).toEqual([1, 2]);
    expect(marks.filter((m) => m.what === "died").length).toBe(3); // cache-1, app-1, app-2
    expect(marks.filter((m) => m.what === "started").length).toBe(3);
    for (const c of out.charts) expect((await renderSpec(c.spec)).warnings, c.name).toEqual([]);
    const svg = readFileSync(join(dir, saturation.files.svg), "utf8");
    expect(svg).toContain("OOM kill");
  }, 60_000);
});

describe("text from scenarios, faults and containers", () => {
  let dir: string;
  beforeAll(async () => {
    dir = markupRun();
    await writeReport(dir);
  }, 60_000);

  it("escapes the helpers' inputs", () => {
    expect(escapeHtml(`${XSS}"'&`)).toBe("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;");
    expect(scriptJson({ a: XSS })).toBe('{"a":"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}');
    expect(escapeMarkdown(`${XSS} | [x](y)`)).toBe("&lt;script&gt;alert(1)&lt;/script&gt; \\| \\[x\\](y)");
  });

  it("shows them as text in report.html", () => {
    const html = readFileSync(join(dir, REPORT_FILES.html), "utf8");
    expect(html.includes(XSS)).toBe(false);
    expect(html.includes(XSS_IMG)).toBe(false);
    expect(ownMarkup(html).includes("<img")).toBe(false);
    expect(html).toContain("Markup &lt;script&gt;alert(1)&lt;/script&gt; in the description");
    expect(html).toContain("toxiproxy said &lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;img src=x onerror=alert(2)&gt;-1 die");
    // Only the page's own script elements: 5 specs, 3 bundles, the boot script.
    expect(html.match(/<script\b/gi)?.length).toBe(9);
    // In the embedded specs the fault name is JSON with '<' escaped.
    expect(html).toContain("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e");
  });

  it("shows them as text in summary.md and in the charts", () => {
    const md = readFileSync(join(dir, REPORT_FILES.markdown), "utf8");
    expect(md).not.toContain("<script");
    expect(md).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    const svg = readFileSync(join(dir, "charts/load.svg"), "utf8");
    expect(svg).not.toContain("<script");
    expect(svg).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });
});

describe("compare", () => {
  let out: Awaited<ReturnType<typeof writeCompare>>;
  beforeAll(async () => {
    const a = copyRun();
    const b = copyRun();
    const yaml = readFileSync(join(b, "scenario.yaml"), "utf8").replace("name: docker-foundation", "name: docker-foundation-mitigated");
    writeFileSync(join(b, "scenario.yaml"), yaml);
    // B: a shorter run (its last 6 s cut), so the shared time axis is visible in the specs.
    const lines = readFileSync(join(b, "samples.ndjson"), "utf8").split("\n");
    writeFileSync(join(b, "samples.ndjson"), lines.filter((l) => !l || (JSON.parse(l) as { t: number }).t < 30).join("\n"));
    out = await writeCompare(a, b, mkdtempSync(join(tmpdir(), "cascade-compare-")));
  }, 60_000);

  it("puts both runs side by side on the same axes", () => {
    expect(out.charts.map((c) => c.name)).toEqual(CHARTS);
    for (const c of out.charts) {
      const spec = c.spec as { concat: Array<Record<string, unknown>>; columns: number };
      expect(spec.columns).toBe(2);
      expect(spec.concat.length % 2).toBe(0);
      for (let i = 0; i < spec.concat.length; i += 2) {
        const [a, b] = [JSON.stringify(spec.concat[i]), JSON.stringify(spec.concat[i + 1])];
        // Same x domain (the longer run's 36 s) on both sides, and the same y domain per panel.
        const xa = a.match(/"domain":\[0,36\]/g)?.length ?? 0;
        expect(xa, c.name).toBeGreaterThan(0);
        expect(b.match(/"domain":\[0,36\]/g)?.length, c.name).toBe(xa);
        const ya = a.match(/"scale":\{(?:"type":"log",)?"domain":\[[^\]]*\]/g) ?? [];
        const yb = b.match(/"scale":\{(?:"type":"log",)?"domain":\[[^\]]*\]/g) ?? [];
        expect(ya, c.name).toEqual(yb);
      }
      const png = readPng(readFileSync(join(out.dir, c.files.png)));
      // two columns of at least 540 px each, drawn at PNG_SCALE
      expect(png.width).toBeGreaterThan(2 * PNG_SCALE * 540);
    }
  });

  it("reports the differences in each mechanism's numbers", () => {
    const md = readFileSync(out.markdown, "utf8");
    expect(md).toContain("## Cascade comparison: docker-foundation vs docker-foundation-mitigated");
    expect(md).toContain("### Mechanisms, A → B");
    expect(md).toMatch(/\| load shift onto a dependency \| score \| 1\.00 \| [\d.]+ \| [+−][\d.]+ \|/);
    expect(md).toMatch(/\| arrivals served in time \(whole run\) \| [\d.]+ % \| [\d.]+ % \| [+−][\d.]+ points \|/);
    const html = readFileSync(out.html, "utf8");
    expect(html).toContain("A: docker-foundation");
    expect(html).toContain("B: docker-foundation-mitigated");
    expect(html.match(/<script\b/gi)?.length).toBe(9);
  });
});

describe("cascade report / compare commands", () => {
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, [fileURLToPath(new URL("../../bin/cascade.js", import.meta.url)), ...args], {
      timeout: 60_000,
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it("regenerates the report of a stored run, and refuses a folder that is not one", async () => {
    const dir = copyRun();
    const ok = await run("report", dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("report.html");
    expect(existsSync(join(dir, "charts/saturation.png"))).toBe(true);
    const bad = await run("report", mkdtempSync(join(tmpdir(), "cascade-empty-")));
    expect(bad.code).toBe(8); // a missing or damaged run record
    expect(bad.stderr).toMatch(/is not a run folder/);
  }, 60_000);
});
