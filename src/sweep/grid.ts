// The sweep's grid: `--vary <path>=<from>..<to>/<step>` (or `<path>=a,b,c`) parsed into an axis of
// values, and the axes expanded into points. Values keep the unit they were written in ("6s",
// "70%"), so the scenario that runs says exactly what was asked.

/** One axis: a scenario path and the values it takes, in order. */
export interface Axis {
  path: string;
  values: Value[];
}

/** A value as written into the scenario: a number, or a number with its unit ("6s", "80%"). */
export type Value = number | string;

/** A bad `--vary` / `--set`: one line, naming the flag. */
export class SweepUsage extends Error {}

/** At most this many values on one axis, and points in one sweep: past it, it is a typo (a step of 0.1 for 1). */
export const MAX_AXIS_VALUES = 50;
export const MAX_POINTS = 400;

const NUM = /^(-?\d+(?:\.\d+)?)([a-z%]*)$/i;

function number(flag: string, s: string): { n: number; unit: string } {
  const m = NUM.exec(s.trim());
  if (!m) throw new SweepUsage(`${flag}: "${s}" is not a number (with an optional unit, e.g. 20, 6s, 500ms, 70%)`);
  return { n: Number(m[1]), unit: (m[2] ?? "").toLowerCase() };
}

const withUnit = (n: number, unit: string): Value => (unit ? `${n}${unit}` : n);

/** `path=value`, for `--set`: one fixed override. */
export function parseSet(spec: string): { path: string; value: Value | string } {
  const eq = spec.indexOf("=");
  const flag = `--set ${spec}`;
  if (eq <= 0 || eq === spec.length - 1) throw new SweepUsage(`${flag}: expected <path>=<value>, e.g. baseline.require.db.cpu=20%..95%`);
  const path = spec.slice(0, eq).trim();
  const raw = spec.slice(eq + 1).trim();
  const m = NUM.exec(raw);
  return { path, value: m && !m[2] ? Number(m[1]) : raw };
}

/** `path=from..to/step` (inclusive) or `path=a,b,c`. */
export function parseVary(spec: string): Axis {
  const flag = `--vary ${spec}`;
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new SweepUsage(`${flag}: expected <path>=<from>..<to>/<step> or <path>=<a>,<b>,…, e.g. load.rate=20..40/10`);
  const path = spec.slice(0, eq).trim();
  const rhs = spec.slice(eq + 1).trim();
  if (!/^[A-Za-z0-9_.-]+$/.test(path))
    throw new SweepUsage(`${flag}: "${path}" is not a path (dot-separated names, e.g. faults.brownout.duration)`);
  const range = /^(.+?)\.\.(.+?)\/(.+)$/.exec(rhs);
  let values: Value[];
  if (range) {
    const [from, to, step] = [number(flag, range[1] as string), number(flag, range[2] as string), number(flag, range[3] as string)];
    if (from.unit !== to.unit || (step.unit && step.unit !== from.unit))
      throw new SweepUsage(`${flag}: from, to and step must use one unit (got "${from.unit}", "${to.unit}", "${step.unit}")`);
    if (step.n <= 0) throw new SweepUsage(`${flag}: the step must be above 0`);
    if (to.n < from.n) throw new SweepUsage(`${flag}: "to" (${to.n}) is below "from" (${from.n})`);
    const count = Math.floor((to.n - from.n) / step.n + 1e-9) + 1;
    if (count > MAX_AXIS_VALUES) throw new SweepUsage(`${flag}: ${count} values; an axis takes at most ${MAX_AXIS_VALUES}`);
    values = Array.from({ length: count }, (_, i) => withUnit(Number((from.n + i * step.n).toFixed(6)), from.unit));
  } else if (rhs.length) {
    const parts = rhs.split(",").map((p) => number(flag, p));
    if (new Set(parts.map((p) => p.unit)).size > 1) throw new SweepUsage(`${flag}: the values must use one unit`);
    if (parts.length > MAX_AXIS_VALUES) throw new SweepUsage(`${flag}: ${parts.length} values; an axis takes at most ${MAX_AXIS_VALUES}`);
    values = parts.map((p) => withUnit(p.n, p.unit));
  } else throw new SweepUsage(`${flag}: no values after "="`);
  if (new Set(values.map(String)).size !== values.length) throw new SweepUsage(`${flag}: a value appears twice`);
  return { path, values };
}

/** A point of the grid: one value per axis, in axis order. */
export interface GridPoint {
  /** "p03": stable across resumes, in grid order */
  id: string;
  values: Value[];
}

/** Every combination, the first axis varying slowest. One or two axes (a map is two-dimensional). */
export function expand(axes: Axis[]): GridPoint[] {
  if (axes.length < 1 || axes.length > 2)
    throw new SweepUsage(`--vary: give one or two axes (got ${axes.length}); a map is two-dimensional`);
  if (new Set(axes.map((a) => a.path)).size !== axes.length) throw new SweepUsage(`--vary: the same path is varied twice`);
  let combos: Value[][] = [[]];
  for (const a of axes) combos = combos.flatMap((c) => a.values.map((v) => [...c, v]));
  if (combos.length > MAX_POINTS) throw new SweepUsage(`--vary: ${combos.length} points; a sweep takes at most ${MAX_POINTS}`);
  const width = String(combos.length - 1).length;
  return combos.map((values, i) => ({ id: `p${String(i).padStart(Math.max(2, width), "0")}`, values }));
}

/** "load.rate=26, faults.brownout.duration=6s" */
export const describePoint = (axes: Axis[], values: Value[]): string => axes.map((a, i) => `${a.path}=${values[i]}`).join(", ");

/** A value as a number, for ordering and sentences ("6s" → 6). */
export const numeric = (v: Value): number => (typeof v === "number" ? v : Number.parseFloat(v));
