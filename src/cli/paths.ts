// Shared by the commands that read a run folder: short paths for output, and the exit code of a
// folder that cannot be read.
import { relative } from "node:path";
import { EXIT } from "./exit.js";

/** A path relative to the working directory when it lies below it, else as given. */
export function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
}

/** Prints why a run folder could not be used; 2 when it is not a (valid) run folder, else 1. */
export function readFailure(e: unknown): number {
  const message = (e as Error).message;
  process.stderr.write(`${message}\n`);
  return /is not a run folder|is missing|invalid/i.test(message) ? EXIT.invalidScenario : EXIT.runFailed;
}
