// Headless rendering: a vega-lite spec → vega (compiled) → a View with no renderer → SVG text,
// and SVG → PNG with resvg (a Rust renderer shipped as a prebuilt npm binary: no browser, no
// canvas, no system libraries; png.mjs) on a thread of its own (raster-worker.mjs), the main
// thread drawing what is left once its SVGs are done. Text widths are estimated by vega without a
// canvas, which is why the specs set label limits.
import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { ResvgRenderOptions } from "@resvg/resvg-js";
import type { TopLevelSpec } from "vega-lite";
import { libraries } from "./bundles.js";
import { rasterize } from "./png.mjs";
import type { VlSpec } from "./charts.js";

export interface Rendered {
  svg: string;
  png: Buffer;
  /** the PNG's size in pixels (the SVG's size × scale) */
  width: number;
  height: number;
  /** vega-lite / vega warnings while compiling and running the spec */
  warnings: string[];
  /** ms spent making the SVG (compile + dataflow + scenegraph) and the PNG */
  timings: { svg: number; png: number };
}

// Advance widths (1/1000 em) of Arial / Liberation Sans (metric-compatible), ASCII 32–126. Without
// a canvas vega estimates every character at 0.8 em, which truncates legend labels early and pads
// the layout; these are the widths of the font resvg draws with, so the layout fits the text.
const ARIAL = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278,
  278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
  667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556,
  556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

export function textWidth(text: string, fontSize: number, bold = false): number {
  let w = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    w += c >= 32 && c <= 126 ? (ARIAL[c - 32] as number) : c === 0x2026 || c === 0x2192 || c === 0x2013 ? 1000 : 600;
  }
  return (w / 1000) * fontSize * (bold ? 1.08 : 1);
}

type TextItem = { text?: unknown; fontSize?: number; fontWeight?: string | number };
const { vega, vegaLite } = libraries();
// vega re-exports vega-scenegraph's textMetrics (its typings do not declare it); a user-defined
// width function is honoured by layout and truncation alike.
const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text?: unknown) => number } }).textMetrics;
metrics.width = (item: TextItem, text?: unknown) => {
  const s = (text == null ? "" : String(text)).trim();
  const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
  const bold = item.fontWeight === "bold" || Number(item.fontWeight) >= 600;
  return textWidth(s, size, bold);
};

/** PNG pixels per SVG pixel: sharper than the SVG's own size on high-density screens and in PR
 * comments (GitHub shows an image at most ~880 px wide), at 56 % of the pixels 2× would draw: a
 * 30-minute run's first report took ~150 ms less at 1.5× than at 2× (bench:report). */
export const PNG_SCALE = 1.5;

/** Collects warnings instead of printing them (a spec that warns is a bug the tests should see). */
function collector(warnings: string[]) {
  let level = 0;
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]) {
      throw new Error(args.map(String).join(" "));
    },
    warn(...args: unknown[]) {
      warnings.push(args.map(String).join(" "));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

export async function toSvg(spec: VlSpec, warnings: string[] = []): Promise<string> {
  const logger = collector(warnings);
  const compiled = vegaLite.compile(spec as unknown as TopLevelSpec, { logger: logger as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logger: logger as never, logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const FONT_FILES = [
  "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
];
let fontOptions: ResvgRenderOptions["font"] | undefined;

/** Load a few known sans fonts directly (a system font scan costs ~40 ms per render); fall back to the scan. */
function fonts(): ResvgRenderOptions["font"] {
  if (fontOptions) return fontOptions;
  const files = FONT_FILES.filter((f) => existsSync(f));
  const family = files.some((f) => f.includes("Liberation")) ? "Liberation Sans" : "DejaVu Sans";
  fontOptions = files.length
    ? { fontFiles: files, loadSystemFonts: false, defaultFontFamily: family, sansSerifFamily: family }
    : { loadSystemFonts: true };
  return fontOptions;
}

/** SVG → PNG here, on this thread (png.mjs, as the rasterizer thread does it). */
export function svgToPng(svg: string, scale = PNG_SCALE): Png {
  return rasterize(svg, scale, fonts());
}

type Png = { png: Buffer; width: number; height: number };

/** A chart waiting for the rasterizer: `claim` (shared with its thread) is 0 until the thread (1)
 * or this thread (2) takes it. */
interface Job {
  svg: string;
  scale: number;
  claim: Int32Array;
  resolve: (r: Png) => void;
  reject: (e: Error) => void;
}

/** The rasterizer thread (raster-worker.mjs), started on first use and kept for the process;
 * it holds the process open only while charts are queued. */
let raster: { worker: Worker; pending: Map<number, Job>; next: number } | undefined;

/** Starts the rasterizer now, so its start-up overlaps reading the run. */
export function warmRasterizer(): void {
  if (raster) return;
  // execArgv []: the thread runs plain JavaScript, so it does not load what the process was started
  // with (tsx's loader, --import: 150–270 ms of CPU at every start, measured).
  const worker = new Worker(new URL("./raster-worker.mjs", import.meta.url), { workerData: { font: fonts() }, execArgv: [] });
  const state = { worker, pending: new Map<number, Job>(), next: 0 };
  raster = state;
  worker.unref();
  const fail = (e: Error) => {
    if (raster === state) raster = undefined;
    for (const p of state.pending.values()) p.reject(new Error(`chart rasterizer: ${e.message}`));
    state.pending.clear();
  };
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`its thread exited (code ${code})`)));
  worker.on("message", (m: { id: number; png?: ArrayBuffer; width?: number; height?: number; error?: string }) => {
    const p = state.pending.get(m.id);
    if (!p) return;
    settle(state, m.id);
    if (m.error !== undefined || !m.png) p.reject(new Error(`chart rasterizer: ${m.error ?? "no PNG"}`));
    else p.resolve({ png: Buffer.from(m.png), width: m.width ?? 0, height: m.height ?? 0 });
  });
}

function settle(state: NonNullable<typeof raster>, id: number): void {
  state.pending.delete(id);
  if (!state.pending.size) state.worker.unref();
}

/** SVG → PNG on the rasterizer thread while the main thread makes the next chart's SVG. */
export function svgToPngAsync(svg: string, scale = PNG_SCALE): Promise<Png> {
  warmRasterizer();
  const state = raster as NonNullable<typeof raster>;
  const id = state.next++;
  const claim = new Int32Array(new SharedArrayBuffer(4));
  return new Promise<Png>((resolve, reject) => {
    state.pending.set(id, { svg, scale, claim, resolve, reject });
    state.worker.ref();
    state.worker.postMessage({ id, svg, scale, claim });
  });
}

/** Draws here the charts still waiting while the rasterizer thread is busy with an earlier one
 * (the latest first; the thread takes the oldest), for when this thread has nothing else to do:
 * the end of a report. Returns how many it drew. */
export function rasterizeWaiting(): number {
  const state = raster;
  if (!state) return 0;
  let drawn = 0;
  for (;;) {
    const jobs = [...state.pending.entries()];
    const busy = jobs.some(([, j]) => Atomics.load(j.claim, 0) === 1);
    const waiting = jobs.reverse().find(([, j]) => Atomics.load(j.claim, 0) === 0);
    // an idle thread takes the next chart itself as soon as it reads its message
    if (!busy || !waiting) return drawn;
    const [id, job] = waiting;
    if (Atomics.compareExchange(job.claim, 0, 0, 2) !== 0) continue; // the thread took it meanwhile
    settle(state, id);
    drawn++;
    try {
      job.resolve(svgToPng(job.svg, job.scale));
    } catch (e) {
      job.reject(new Error(`chart rasterizer: ${(e as Error).message}`));
    }
  }
}

/** The spec without its interaction layers (hover rules and their selections): a static image
 * cannot hover, and those layers are thousands of invisible items for vega and resvg to draw. */
export function staticSpec(spec: VlSpec): VlSpec {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== "object") return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "datasets" || k === "data") out[k] = v;
      else if (k === "layer" && Array.isArray(v)) out[k] = v.filter((l) => !(l as { params?: unknown }).params).map(walk);
      else out[k] = walk(v);
    }
    return out;
  };
  return walk(spec) as VlSpec;
}

/** A chart to SVG now and to PNG in the background: await `png` when it is needed. */
export async function renderSpecPipelined(
  spec: VlSpec,
  scale = PNG_SCALE,
): Promise<{ svg: string; warnings: string[]; svgMs: number; png: Promise<{ png: Buffer; width: number; height: number }> }> {
  const warnings: string[] = [];
  const t0 = performance.now();
  const svg = await toSvg(staticSpec(spec), warnings);
  return { svg, warnings, svgMs: performance.now() - t0, png: svgToPngAsync(svg, scale) };
}

/** A spec to SVG and PNG, one after the other (the tests and one-off renders). */
export async function renderSpec(spec: VlSpec, scale = PNG_SCALE): Promise<Rendered> {
  const warnings: string[] = [];
  const t0 = performance.now();
  const svg = await toSvg(staticSpec(spec), warnings);
  const t1 = performance.now();
  const png = svgToPng(svg, scale);
  return { svg, ...png, warnings, timings: { svg: t1 - t0, png: performance.now() - t1 } };
}

/** The size an SVG declares (its root width and height attributes). */
export function svgSize(svg: string): { width: number; height: number } {
  const head = svg.slice(0, svg.indexOf(">"));
  const num = (attr: string) => Number(new RegExp(`\\s${attr}="([\\d.]+)"`).exec(head)?.[1] ?? Number.NaN);
  return { width: num("width"), height: num("height") };
}
