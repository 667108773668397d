// Where the harness finds its own files (Dockerfiles) and where runs are written.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DOCKER_DIR = join(ROOT, "docker");
export const SCENARIOS_DIR = join(ROOT, "scenarios");
/** Runs go under ./reports of the working directory unless CASCADE_REPORTS says otherwise. */
export const reportsDir = (): string => resolve(process.env.CASCADE_REPORTS ?? "reports");
/** Per-machine state (chosen image source, toxiproxy binary cache). */
export const stateDir = (): string => resolve(process.env.CASCADE_HOME ?? join(process.env.HOME ?? "/tmp", ".cascade"));
