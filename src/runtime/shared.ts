// What every runtime does the same way with a container, whichever engine holds it: the run's
// secrets in its env, limits as Docker's update body, and the engine's event stream as events.
import { cpus, totalmem } from "node:os";
import { LABEL } from "./docker/labels.js";
import type { ContainerEvent, Limits } from "./types.js";

/** Per-run secrets a container of this kind is given: the app's admin token and database password
 * (node-postgres reads PGPASSWORD when DATABASE_URL has none, MySQL clients MYSQL_PWD), the
 * database's own. MariaDB's root gets the same password (the official image requires one). */
export function secretEnv(kind: string, adminToken: string, dbPassword: string): Record<string, string> {
  if (kind === "app") return { CASCADE_ADMIN_TOKEN: adminToken, PGPASSWORD: dbPassword, MYSQL_PWD: dbPassword };
  if (kind === "postgres") return { POSTGRES_PASSWORD: dbPassword };
  if (kind === "mariadb") return { MARIADB_PASSWORD: dbPassword, MARIADB_ROOT_PASSWORD: dbPassword };
  return {};
}

/** Docker's update body for new limits. Its update ignores 0 ("unchanged"), so "no limit" is
 * written as the whole machine; swap follows memory so the limit really binds. */
export function limitsBody(limits: Limits): Record<string, number> {
  const body: Record<string, number> = {};
  if (limits.memory !== undefined) {
    const bytes = limits.memory === 0 ? totalmem() : limits.memory;
    body.Memory = bytes;
    body.MemorySwap = bytes;
  }
  if (limits.cpus !== undefined) body.NanoCpus = Math.round((limits.cpus === 0 ? cpus().length : limits.cpus) * 1e9);
  return body;
}

/** The limits a container has now (0 = none). */
export const limitsOf = (hc: { Memory?: number; NanoCpus?: number }): Limits => ({
  memory: hc.Memory ?? 0,
  cpus: (hc.NanoCpus ?? 0) / 1e9,
});

export const WATCHED = ["start", "die", "oom", "kill", "restart", "stop"];

/** Reads an engine's event stream (JSON lines) as container events of the run's services;
 * containers carrying the `skip` label (holders, the reaper) are not the service's process. */
export function readEvents(stream: NodeJS.ReadableStream, skip: string[], onEvent: (e: ContainerEvent) => void): void {
  let buf = "";
  stream.on("data", (chunk: Buffer) => {
    buf += chunk.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const ev = JSON.parse(line) as { Action: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
        const a = ev.Actor.Attributes;
        if (skip.some((k) => a[k] !== undefined)) continue;
        onEvent({
          time: new Date(ev.timeNano / 1e6).toISOString(),
          service: a[LABEL.service] ?? "?",
          replica: Number(a[LABEL.replica] ?? 0),
          action: ev.Action,
          ...(a.exitCode !== undefined ? { exitCode: Number(a.exitCode) } : {}),
        });
      } catch {
        /* a partial or foreign line: skip */
      }
    }
  });
  stream.on("error", () => {});
}
