// The run folder: reports/<scenario>/<timestamp>/. Samples and events are appended line by line
// with synchronous writes as the run goes, so a crash or SIGKILL keeps everything up to the
// last completed second.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const FILES = {
  scenario: "scenario.yaml",
  plan: "plan.json",
  samples: "samples.ndjson",
  events: "events.ndjson",
  result: "result.json",
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
