// A sweep point's scenario: the scenario file's YAML with each override written into it (comments
// and layout kept, so the run record's scenario.yaml is the file that ran), then validated as any
// scenario is. A path that names nothing, or a value the scenario refuses, is one line naming the flag.
import { parseDocument } from "yaml";
import { parseScenario, ScenarioInvalid } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";
import { SweepUsage, type Value } from "./grid.js";

export interface Override {
  path: string;
  value: Value;
  /** the flag as the user wrote it, for the error line ("--vary load.rate=20..40/10") */
  flag: string;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const nameOf = (v: unknown): string | undefined => (isMap(v) && typeof v.name === "string" ? v.name : undefined);

/** The concrete YAML paths a dotted path names. A list segment is an index or an element's `name`
 * (faults.brownout.duration); `load.rate` (a key of each phase, not of load) sets every phase. */
export function resolvePath(raw: unknown, path: string, flag: string): (string | number)[][] {
  const segs = path.split(".");
  let cur: unknown = raw;
  const at: (string | number)[] = [];
  const where = () => (at.length ? at.join(".") : "the scenario");
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i] as string;
    const last = i === segs.length - 1;
    if (Array.isArray(cur)) {
      const idx = /^\d+$/.test(seg) ? Number(seg) : cur.findIndex((e) => nameOf(e) === seg);
      if (idx < 0 || idx >= cur.length) {
        const names = cur.map(nameOf).filter((n): n is string => n !== undefined);
        throw new SweepUsage(
          `${flag}: ${where()} has no element "${seg}" (${names.length ? `its names: ${names.join(", ")}` : `use an index 0-${cur.length - 1}`})`,
        );
      }
      at.push(idx);
      cur = cur[idx];
      continue;
    }
    if (!isMap(cur)) throw new SweepUsage(`${flag}: ${where()} is a value (${JSON.stringify(cur)}), it has no "${seg}"`);
    if (!(seg in cur)) {
      // A key each phase has: the override applies to every phase.
      if (last && Array.isArray(cur.phases) && cur.phases.every((p) => isMap(p) && seg in p))
        return cur.phases.map((_, j) => [...at, "phases", j, seg]);
      // A new last key is allowed (the schema then says whether it belongs there).
      if (!last) throw new SweepUsage(`${flag}: ${where()} has no "${seg}" (it has: ${Object.keys(cur).join(", ")})`);
    }
    at.push(seg);
    cur = cur[seg];
  }
  return [at];
}

/** The scenario with the overrides applied, validated; its text is what the run records. */
export function applyOverrides(
  source: string,
  file: string,
  overrides: Override[],
  baseDir?: string,
): { scenario: Scenario; source: string } {
  const doc = parseDocument(source);
  for (const o of overrides) for (const p of resolvePath(doc.toJS(), o.path, o.flag)) doc.setIn(p, o.value);
  if (overrides.length)
    doc.commentBefore = ` cascade sweep point: ${overrides.map((o) => `${o.path}=${o.value}`).join(", ")}${doc.commentBefore ? `\n${doc.commentBefore}` : ""}`;
  const text = String(doc);
  try {
    return { scenario: parseScenario(text, file, baseDir), source: text };
  } catch (e) {
    if (!(e instanceof ScenarioInvalid)) throw e;
    const first = e.issues[0];
    const flags = overrides.map((o) => o.flag).filter((f, i, a) => a.indexOf(f) === i);
    throw new SweepUsage(
      `${flags.join(" ")}: the scenario refuses it — ${first ? `${first.field}: ${first.message}` : e.message}${e.issues.length > 1 ? ` (and ${e.issues.length - 1} more)` : ""}`,
    );
  }
}
