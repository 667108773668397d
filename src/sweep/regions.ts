// The sweep read as regions (Bronson et al., HotOS'21): along the load axis, where every trigger
// recovered (stable), where small triggers recovered and large ones did not (vulnerable: the
// boundary lies inside the grid), where none did (metastable). Sentences name the values, and the
// boundary is the edge between a recovered cell and one that stayed down or came back late.
import type { PointClass } from "./classify.js";
import { numeric, type Value } from "./grid.js";
import type { SweepRecord } from "./record.js";

export interface Cell {
  id: string;
  xi: number;
  yi: number;
  x: Value;
  y: Value | null;
  class: PointClass | null;
  split: boolean;
  runs: number;
  /** how many of its runs got the cell's class */
  agree: number;
  /** the first run's folder, relative to the sweep folder */
  dir: string | null;
  sustained_by: string | null;
  recovered_after_s: number[];
  note: string | null;
}

export interface Segment {
  x: number;
  y: number;
  x2: number;
  y2: number;
}

const DOWN: (PointClass | null)[] = ["metastable", "recovered late"];

export function cells(r: SweepRecord): Cell[] {
  const [ax, ay] = r.axes;
  return r.points.map((p) => {
    const first = p.runs[0];
    return {
      id: p.id,
      xi: ax ? ax.values.findIndex((v) => String(v) === String(p.values[0])) : 0,
      yi: ay ? ay.values.findIndex((v) => String(v) === String(p.values[1])) : 0,
      x: p.values[0] as Value,
      y: ay ? (p.values[1] as Value) : null,
      class: p.class,
      split: p.split,
      runs: p.runs.length,
      agree: p.runs.filter((x) => x.class === p.class).length,
      dir: first?.dir ?? null,
      sustained_by: p.runs.find((x) => x.figures.sustained_by)?.figures.sustained_by ?? null,
      recovered_after_s: p.runs.flatMap((x) => (x.figures.recovered_after_s === null ? [] : [x.figures.recovered_after_s])),
      note: p.runs.find((x) => x.figures.note)?.figures.note ?? null,
    };
  });
}

/** The edges between a recovered cell and a neighbour that stayed down or recovered late, in cell
 * index coordinates (cell i spans i-0.5..i+0.5). */
export function boundary(cs: Cell[]): Segment[] {
  const at = new Map(cs.map((c) => [`${c.xi},${c.yi}`, c]));
  const differ = (a: Cell, b: Cell | undefined) =>
    b !== undefined && ((a.class === "recovered" && DOWN.includes(b.class)) || (b.class === "recovered" && DOWN.includes(a.class)));
  const out: Segment[] = [];
  for (const c of cs) {
    if (differ(c, at.get(`${c.xi + 1},${c.yi}`))) out.push({ x: c.xi + 0.5, y: c.yi - 0.5, x2: c.xi + 0.5, y2: c.yi + 0.5 });
    if (differ(c, at.get(`${c.xi},${c.yi + 1}`))) out.push({ x: c.xi - 0.5, y: c.yi + 0.5, x2: c.xi + 0.5, y2: c.yi + 0.5 });
  }
  return out;
}

/** "load.rate" → "load", "faults.brownout.duration" → "brownout length". */
export function axisTitle(path: string): string {
  if (path === "load.rate") return "load (req/s)";
  const f = /^faults\.([^.]+)\.duration$/.exec(path);
  if (f) return `${f[1]} length`;
  return path;
}

const xText = (path: string, v: Value) => (path === "load.rate" ? `${v} req/s` : `${path}=${v}`);
const yNoun = (path: string) => {
  const f = /^faults\.([^.]+)\.duration$/.exec(path);
  return f ? `${f[1]}s` : `values of ${path}`;
};
const mechanism = (s: string | null) => (s ? s.split(" (")[0] : null);

export type Region = "stable" | "vulnerable" | "metastable" | "unknown";

export interface Column {
  x: Value;
  region: Region;
  /** the largest trigger that recovered below the first one that did not, and that first one */
  last_recovered: Value | null;
  first_down: Value | null;
  sentence: string;
}

function downWords(cs: Cell[], limit: number | null): string {
  const lim = limit === null ? "the SLO's recovery time" : `${limit} s`;
  const meta = cs.filter((c) => c.class === "metastable");
  const late = cs.filter((c) => c.class === "recovered late");
  const mechs = [...new Set(meta.map((c) => mechanism(c.sustained_by)).filter((m): m is string => m !== null))];
  const by = mechs.length ? `, sustained by ${mechs.join(" and ")}` : "";
  if (!late.length) return `stayed down after it ended (metastable${by})`;
  const after = late.flatMap((c) => c.recovered_after_s);
  const span = after.length
    ? `after ${Math.min(...after)}${Math.max(...after) > Math.min(...after) ? `–${Math.max(...after)}` : ""} s`
    : "";
  if (!meta.length) return `recovered late (${span}, past the SLO's ${lim})`;
  return `did not recover within ${lim} (${meta.length} stayed down${by}; ${late.length} recovered late, ${span})`;
}

/** Each value of the first axis, with its region and one sentence. */
export function columns(r: SweepRecord): Column[] {
  const [ax, ay] = r.axes;
  if (!ax) return [];
  const all = cells(r);
  return ax.values.map((x, xi) => {
    const col = all.filter((c) => c.xi === xi).sort((a, b) => a.yi - b.yi);
    const xs = xText(ax.path, x);
    const noun = ay ? yNoun(ay.path) : "runs";
    const lim = r.recovery_limit_s === null ? "the SLO's recovery time" : `the SLO's ${r.recovery_limit_s} s`;
    const ys = (c: Cell) => (c.y === null ? "" : String(c.y));
    const judged = col.filter((c) => c.class === "recovered" || DOWN.includes(c.class));
    const unjudged = col.filter((c) => !judged.includes(c));
    const tail = unjudged.length
      ? ` ${unjudged.map((c) => `${ys(c) || "The point"}: ${c.class ?? "not run yet"}${c.note ? ` (${c.note})` : ""}`).join("; ")}.`
      : "";
    const split = col.some((c) => c.split) ? " Repeats disagreed at some points (marked ±)." : "";
    if (!judged.length)
      return { x, region: "unknown" as const, last_recovered: null, first_down: null, sentence: `At ${xs} no point has a verdict.${tail}` };
    const firstDown = judged.findIndex((c) => DOWN.includes(c.class));
    const monotone = firstDown < 0 || judged.slice(firstDown).every((c) => DOWN.includes(c.class));
    const top = judged.at(-1) as Cell;
    if (firstDown < 0)
      return {
        x,
        region: "stable" as const,
        last_recovered: top.y,
        first_down: null,
        sentence: `At ${xs} every ${noun.replace(/s$/, "")} up to ${ys(top)} recovered within ${lim}.${tail}${split}`,
      };
    const down = judged.slice(firstDown);
    if (firstDown === 0 && monotone)
      return {
        x,
        region: "metastable" as const,
        last_recovered: null,
        first_down: (judged[0] as Cell).y,
        sentence: `At ${xs} every ${noun.replace(/s$/, "")} from ${ys(judged[0] as Cell)} ${downWords(down, r.recovery_limit_s)}.${tail}${split}`,
      };
    if (monotone) {
      const last = judged[firstDown - 1] as Cell;
      const first = judged[firstDown] as Cell;
      return {
        x,
        region: "vulnerable" as const,
        last_recovered: last.y,
        first_down: first.y,
        sentence: `At ${xs} ${noun} up to ${ys(last)} recovered within ${lim}; ${noun} of ${ys(first)} or more ${downWords(down, r.recovery_limit_s)}.${tail}${split}`,
      };
    }
    return {
      x,
      region: "vulnerable" as const,
      last_recovered: firstDown > 0 ? (judged[firstDown - 1] as Cell).y : null,
      first_down: (judged[firstDown] as Cell).y,
      sentence: `At ${xs} the classes are not ordered by ${ay ? axisTitle(ay.path) : "trigger"}: ${judged.map((c) => `${ys(c)} ${c.class}`).join(", ")}.${tail}${split}`,
    };
  });
}

/** The regions in one sentence each, across the load axis: "stable at 20 req/s; vulnerable at 26 req/s; …". */
export function regionSentence(r: SweepRecord): string {
  const [ax] = r.axes;
  if (!ax) return "";
  const cols = columns(r);
  const parts = (["stable", "vulnerable", "metastable"] as const)
    .map((reg) => {
      const xs = cols.filter((c) => c.region === reg).map((c) => String(c.x));
      return xs.length ? `${reg} at ${xs.join(", ")}${ax.path === "load.rate" ? " req/s" : ""}` : "";
    })
    .filter(Boolean);
  return parts.length ? `Regions: ${parts.join("; ")}.` : "No region has a verdict yet.";
}

/** The boundary along the first axis, for two sweeps over the same grid: where each first stayed down. */
export function boundaryShift(a: SweepRecord, b: SweepRecord, names: [string, string]): string[] {
  const ca = columns(a);
  const cb = columns(b);
  const [ax, ay] = a.axes;
  if (!ax) return [];
  const noun = ay ? yNoun(ay.path) : "runs";
  return ca.map((c, i) => {
    const d = cb[i];
    const say = (col: Column | undefined) =>
      !col || col.region === "unknown"
        ? "no verdict"
        : col.first_down === null
          ? `recovered from every ${noun.replace(/s$/, "")} up to ${col.last_recovered}`
          : col.last_recovered === null
            ? `was not back within the SLO's recovery time from the smallest (${col.first_down})`
            : `recovered up to ${col.last_recovered}, was not back in time from ${col.first_down}`;
    const moved =
      d && c.region !== "unknown" && d.region !== "unknown"
        ? c.first_down !== null && d.first_down === null
          ? " — the mitigation moved the boundary past the grid"
          : c.first_down !== null && d.first_down !== null && numeric(d.first_down) > numeric(c.first_down)
            ? ` — the boundary moved from ${c.first_down} to ${d.first_down}`
            : c.first_down === null && d.first_down === null
              ? " — both recovered everywhere here"
              : c.first_down !== null && d.first_down !== null && numeric(d.first_down) === numeric(c.first_down)
                ? " — no change"
                : " — the second is worse here"
        : "";
    return `At ${xText(ax.path, c.x)}: ${names[0]} ${say(c)}; ${names[1]} ${say(d)}${moved}.`;
  });
}
