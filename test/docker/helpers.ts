// Shared by the Docker integration tests: what exists on the engine, and running the CLI.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { docker } from "../../src/runtime/docker/client.js";
import { LABEL } from "../../src/runtime/docker/labels.js";
import { ROOT } from "../../src/paths.js";
import { resolveSource } from "../../src/images/source.js";
import { type RunResult, runScenarioFile } from "../../src/run/run.js";

export async function objectsOfRun(runId: string): Promise<{ containers: number; networks: number }> {
  const d = docker();
  const label = [`${LABEL.run}=${runId}`];
  const containers = await d.listContainers({ all: true, filters: { label } });
  const networks = await d.listNetworks({ filters: { label } });
  return { containers: containers.length, networks: networks.length };
}

export async function allManagedContainers(): Promise<number> {
  return (await docker().listContainers({ all: true, filters: { label: [LABEL.managed] } })).length;
}

export function readNdjson<T>(file: string): T[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

export interface CliRun {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  /** Resolves when stderr has printed a line matching `re`. */
  waitFor: (re: RegExp, ms?: number) => Promise<RegExpMatchArray>;
  exit: Promise<number | null>;
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [join(ROOT, "bin/cascade.js"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  let out = "";
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const waitFor = (re: RegExp, ms = 240_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const started = Date.now();
      const tick = setInterval(() => {
        const m = err.match(re);
        if (m) {
          clearInterval(tick);
          resolve(m);
        } else if (Date.now() - started > ms || child.exitCode !== null) {
          clearInterval(tick);
          reject(new Error(`never saw ${re} on stderr; got:\n${err.slice(-2000)}`));
        }
      }, 50);
    });
  return { child, stderr: () => err, stdout: () => out, waitFor, exit };
}

/** Runs scenario `file` of folder `dir` to its end, writing its run folder under `outDir`; throws
 * unless it completed with an analysis (the catalog's and the real apps' tests). */
export async function runScenario(dir: string, file: string, outDir: string): Promise<RunResult> {
  const r = await runScenarioFile(join(dir, file), {
    source: resolveSource().source,
    progress: () => {},
    signal: new AbortController().signal,
    outDir,
  });
  if (r.status !== "completed" || !r.analysis) throw new Error(`${file}: run ${r.status}: ${r.error}`);
  return r;
}

/** The primary mechanism's name, then the contributing ones'. */
export const mechanismNames = (a: { primary: { name: string } | null; contributing: { name: string }[] } | undefined): string[] =>
  [a?.primary, ...(a?.contributing ?? [])].filter((m) => m).map((m) => m?.name as string);
