// Which databases a scenario's declared CPU time must be calibrated on: every Postgres or MariaDB service that
// a reference app reads with a per-read CPU cost (in its config or set by an `app` fault later).
import type { Scenario } from "../scenario/schema.js";

export interface CalibrationNeed {
  /** the postgres service */
  db: string;
  /** reference-app services that read it and get its rows-per-CPU-ms in their env */
  apps: string[];
  /** the largest per-read CPU declared by those apps, ms (checked after converting) */
  declaredMs: number;
}

const cpuMsOf = (o: Record<string, unknown> | undefined): number => {
  const v = o?.dbQueryCpuMs;
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
};

export function calibrationNeeds(s: Scenario): CalibrationNeed[] {
  const out: CalibrationNeed[] = [];
  for (const [db, svc] of Object.entries(s.services)) {
    if (svc.kind !== "postgres" && svc.kind !== "mariadb") continue;
    const apps = s.links.filter((l) => l.to === db && s.services[l.from]?.kind === "app").map((l) => l.from);
    const declared = apps.map((a) =>
      Math.max(cpuMsOf(s.services[a]?.config), ...s.faults.map((f) => (f.kind === "app" && f.service === a ? cpuMsOf(f.set) : 0))),
    );
    const declaredMs = Math.max(0, ...declared);
    if (declaredMs > 0) out.push({ db, apps, declaredMs });
  }
  return out;
}
