// sweep.json: the sweep as recorded, versioned. Written after every point (atomically), so an
// interrupted sweep keeps what it finished and `--resume` continues from there.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Figures, PointClass } from "./classify.js";
import type { Axis, Value } from "./grid.js";

export const SWEEP_SCHEMA_VERSION = 1;
export const SWEEP_FILE = "sweep.json";

export interface PointRun {
  /** the run's folder, relative to the sweep folder */
  dir: string;
  run_id: string;
  status: "completed" | "interrupted" | "error";
  class: PointClass;
  figures: Figures;
  /** wall time of the run, s */
  wall_s: number;
}

export interface SweepPoint {
  id: string;
  values: Value[];
  /** the runs recorded so far (up to `repeat`); interrupted ones are not kept */
  runs: PointRun[];
  /** the majority class of its runs, null until it has one */
  class: PointClass | null;
  /** its runs disagree */
  split: boolean;
}

export interface SweepRecord {
  schema_version: number;
  /** the scenario's name, and its file as given */
  scenario: string;
  scenario_file: string;
  axes: Axis[];
  /** fixed overrides every point carries (e.g. a baseline band widened along the load axis), with why */
  set: { path: string; value: Value | string }[];
  repeat: number;
  /** the SLO's recovery time the classes are judged by, s */
  recovery_limit_s: number | null;
  started: string;
  updated: string;
  /** summed wall time of the runs recorded, s */
  wall_s: number;
  points: SweepPoint[];
}

export function readSweep(dir: string): SweepRecord | undefined {
  const f = join(dir, SWEEP_FILE);
  if (!existsSync(f)) return undefined;
  const r = JSON.parse(readFileSync(f, "utf8")) as SweepRecord;
  if (r.schema_version !== SWEEP_SCHEMA_VERSION || !Array.isArray(r.points) || !Array.isArray(r.axes))
    throw new Error(`${f}: not a sweep record this Cascade reads (schema_version ${r.schema_version}, expected ${SWEEP_SCHEMA_VERSION})`);
  return r;
}

export function writeSweep(dir: string, r: SweepRecord): void {
  const f = join(dir, SWEEP_FILE);
  writeFileSync(`${f}.tmp`, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(`${f}.tmp`, f);
}
