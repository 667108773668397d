// The run folder: reports/<scenario>/<timestamp>/. Samples and events are appended line by line
// with synchronous writes as the run goes, so a crash or SIGKILL keeps everything up to the
// last completed second.
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const FILES = {
  scenario: "scenario.yaml",
  plan: "plan.json",
  samples: "samples.ndjson",
  events: "events.ndjson",
  result: "result.json",
  analysis: "analysis.json",
  junit: "junit.xml",
} as const;

export class RunRecord {
  readonly dir: string;
  /** The first write that failed mid-run (a disk filling up), in one line; later appends are skipped. */
  failure?: string;
  /** Told once, at the first failed append: the run stops rather than go on unrecorded. */
  onFailure?: (why: string) => void;

  /** reports/<scenario>/<UTC second>-<run id>: the id keeps two runs started in one second apart. */
  constructor(root: string, scenario: string, started: Date, runId: string) {
    const stamp = started
      .toISOString()
      .replace(/[:]/g, "-")
      .replace(/\.\d+Z$/, "Z");
    this.dir = join(root, scenario, `${stamp}-${runId}`);
    try {
      // exclusive: never two runs in one folder
      mkdirSync(join(root, scenario), { recursive: true });
      mkdirSync(this.dir);
      // Create both streams up front: an empty file says "nothing collected", a missing one says "broken".
      writeFileSync(join(this.dir, FILES.samples), "");
      writeFileSync(join(this.dir, FILES.events), "");
    } catch (e) {
      throw new RecordUnwritable(`cannot write the run record under ${root}: ${why(writableError(root) ?? e)}`, false);
    }
  }

  /** A whole file (result.json, analysis.json…); throws RecordUnwritable in one line. */
  write(name: string, content: string | object): void {
    try {
      writeAtomic(join(this.dir, name), typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
    } catch (e) {
      throw new RecordUnwritable(`cannot write ${join(this.dir, name)}: ${why(e)}`, true);
    }
  }

  sample(s: object): void {
    this.append(FILES.samples, s);
  }

  event(e: object): void {
    this.append(FILES.events, e);
  }

  private append(name: string, line: object): void {
    if (this.failure) return;
    try {
      appendFileSync(join(this.dir, name), `${JSON.stringify(line)}\n`);
    } catch (e) {
      this.failure = `cannot write ${join(this.dir, name)}: ${why(e)}`;
      this.onFailure?.(this.failure);
    }
  }
}

/** Node's recursive mkdir answers ENOENT on a read-only file system: ask the folder itself. */
function writableError(root: string): unknown {
  try {
    if (existsSync(root)) accessSync(root, constants.W_OK);
    return undefined;
  } catch (e) {
    return e;
  }
}

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  const hint =
    code === "EACCES" || code === "EROFS" ? " (a folder this user may write: --out <dir>)" : code === "ENOSPC" ? " (the disk is full)" : "";
  return `${code || (e as Error).message}${hint}`;
}

/** The version of the run record's JSON files (result.json, analysis.json): raised when a field
 * changes meaning or goes away; new optional fields keep it. Schemas: schemas/*.schema.json. */
export const RECORD_SCHEMA_VERSION = 1;

/** Writes a whole file so that a reader never sees half of it: a temporary file, then a rename. */
export function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/** The run folder cannot be created or written (read-only, full, no permission). `started`: a
 * run had begun (and was torn down) before the write failed. */
export class RecordUnwritable extends Error {
  override readonly name = "RecordUnwritable";
  constructor(
    message: string,
    readonly started: boolean,
  ) {
    super(message);
  }
}

/** A run record that cannot be read as written: names the file and the line. */
export class RecordDamaged extends Error {
  override readonly name = "RecordDamaged";
}

/** One line of samples.ndjson: a second of load, or a reading of every component. */
export type SampleLine =
  | ({ kind: "load" } & Record<string, unknown>)
  | ({ kind: "components" } & Record<string, unknown>)
  | ({ kind: "cohort" } & Record<string, unknown>);

/** Reads an NDJSON file. Only the last line may be torn (a crash mid-write) and is skipped; a line
 * that cannot be read anywhere else is damage, and silently dropping it would shift every later
 * second, so it throws RecordDamaged naming the file and the line. */
export function readNdjsonFile<T>(file: string): T[] {
  const out: T[] = [];
  const lines = readFileSync(file, "utf8").split("\n");
  let last = lines.length - 1;
  while (last >= 0 && !lines[last]?.trim()) last--;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const v = JSON.parse(line) as unknown;
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
      out.push(v as T);
    } catch (e) {
      if (i === last) return; // torn last line
      throw new RecordDamaged(
        `${file}:${i + 1}: damaged line (${(e as Error).message}): ${line.slice(0, 80)}${line.length > 80 ? "…" : ""}`,
      );
    }
  });
  return out;
}

/** Reads a JSON file of the record; damage is one line naming the file. */
export function readJsonFile<T>(file: string): T {
  const text = readFileSync(file, "utf8");
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new RecordDamaged(`${file}: damaged (${(e as Error).message})`);
  }
}

/** The load seconds, the send-second cohorts and the component readings of a run folder, in order. */
export function readSamples<L = Record<string, unknown>, C = Record<string, unknown>, K = Record<string, unknown>>(
  dir: string,
): { load: L[]; components: C[]; cohorts: K[] } {
  const lines = readNdjsonFile<SampleLine>(join(dir, FILES.samples));
  const strip = ({ kind: _, ...rest }: SampleLine) => rest;
  return {
    load: lines.filter((l) => l.kind === "load").map((l) => strip(l) as L),
    components: lines.filter((l) => l.kind === "components") as C[],
    cohorts: lines.filter((l) => l.kind === "cohort").map((l) => strip(l) as K),
  };
}
