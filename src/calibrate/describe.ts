// One line per calibration, for progress output and summaries.
import type { DbCalibration } from "./postgres.js";

export function describeCalibration(c: DbCalibration): string {
  const check = c.check ? `; a read declared ${c.check.declared_ms} ms measured ${c.check.measured_ms} ms` : "";
  return `${c.service}: 1 ms of CPU = ${c.rows_per_cpu_ms.toLocaleString("en-US")} rows here (probe: ${c.probe.queries} queries, ${c.probe.cpu_ms} ms of ${c.probe.counter} CPU in ${c.probe.wall_ms} ms)${check}`;
}
