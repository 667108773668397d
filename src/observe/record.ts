// The run folder: reports/<scenario>/<timestamp>/. Samples and events are appended line by line
// with synchronous writes as the run goes, so a crash or SIGKILL keeps everything up to the
// last completed second.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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

  constructor(root: string, scenario: string, started: Date) {
    const stamp = started
      .toISOString()
      .replace(/[:]/g, "-")
      .replace(/\.\d+Z$/, "Z");
    this.dir = join(root, scenario, stamp);
    mkdirSync(this.dir, { recursive: true });
    // Create both streams up front: an empty file says "nothing collected", a missing one says "broken".
    writeFileSync(join(this.dir, FILES.samples), "");
    writeFileSync(join(this.dir, FILES.events), "");
  }

  write(name: string, content: string | object): void {
    writeFileSync(join(this.dir, name), typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
  }

  sample(s: object): void {
    appendFileSync(join(this.dir, FILES.samples), `${JSON.stringify(s)}\n`);
  }

  event(e: object): void {
    appendFileSync(join(this.dir, FILES.events), `${JSON.stringify(e)}\n`);
  }
}

/** One line of samples.ndjson: a second of load, or a reading of every component. */
export type SampleLine = ({ kind: "load" } & Record<string, unknown>) | ({ kind: "components" } & Record<string, unknown>);

/** Reads an NDJSON file, skipping a torn last line (a crash mid-write). */
export function readNdjsonFile<T>(file: string): T[] {
  const out: T[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* torn line */
    }
  }
  return out;
}

/** The load seconds and the component readings of a run folder, in order. */
export function readSamples<L = Record<string, unknown>, C = Record<string, unknown>>(dir: string): { load: L[]; components: C[] } {
  const lines = readNdjsonFile<SampleLine>(join(dir, FILES.samples));
  return {
    load: lines.filter((l) => l.kind === "load").map(({ kind: _, ...rest }) => rest as L),
    components: lines.filter((l) => l.kind === "components") as C[],
  };
}
