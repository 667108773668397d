// Shared by the commands that read a run folder: short paths for output, and the exit code of a
// folder that cannot be read.
import { relative } from "node:path";
import { EXIT } from "./exit.js";

/** A path relative to the working directory when it lies below it, else as given. */
export function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
}

/** Prints why a run folder could not be used, in one line; exit 8 (missing or damaged record). */
export function readFailure(e: unknown): number {
  process.stderr.write(`${(e as Error).message}\n`);
  return EXIT.badRecord;
}
