// app: flips reference-app settings at runtime through its admin endpoint (POST /admin/config),
// and puts back the values it found there when the fault window ends.
import type { AppFault } from "../scenario/schema.js";
import type { Endpoint } from "../runtime/types.js";
import { replicasOf } from "./targets.js";
import type { FaultModule } from "./types.js";

const ADMIN_PATH = "/admin/config";
const CALL_TIMEOUT_MS = 3000;

/** A crash-looping app answers only now and then: connection failures are retried for a while. */
async function admin(ep: Endpoint, token: string, body?: Record<string, unknown>, patienceMs = 5000): Promise<Record<string, unknown>> {
  const until = Date.now() + patienceMs;
  for (;;) {
    try {
      return await adminOnce(ep, token, body);
    } catch (e) {
      // fetch fails with a TypeError on refused or reset connections; an HTTP answer is not retried.
      const refused = e instanceof TypeError || (e as Error).name === "TimeoutError";
      if (!refused || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function adminOnce(ep: Endpoint, token: string, body?: Record<string, unknown>): Promise<Record<string, unknown>> {
  // Endpoints are the run's own containers, as the runtime gives them; nothing else is ever called.
  const auth = { authorization: `Bearer ${token}` };
  const res = await fetch(`http://${ep.host}:${ep.port}${ADMIN_PATH}`, {
    method: body ? "POST" : "GET",
    headers: body ? { ...auth, "content-type": "application/json" } : auth,
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${ADMIN_PATH} answered ${res.status}: ${text.trim().slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

export const app: FaultModule<AppFault> = {
  kind: "app",
  async apply(f, { runtime }) {
    const replicas = replicasOf(f, runtime);
    const targets = runtime.plans().filter((c) => c.service === f.service && replicas.includes(c.replica));
    if (targets.length === 0) throw new Error(`app fault: no container of "${f.service}"`);
    const keys = Object.keys(f.set);
    const token = runtime.adminToken;
    const settled = await Promise.allSettled(
      targets.map(async (c) => {
        const ep = await runtime.endpoint(c.service, c.replica, c.port);
        try {
          const current = await admin(ep, token);
          await admin(ep, token, f.set);
          return { c, host: c.host, ep, previous: Object.fromEntries(keys.map((k) => [k, current[k]])) };
        } catch (e) {
          throw new Error(`app fault on ${c.host}: ${(e as Error).message}`);
        }
      }),
    );
    const before = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = settled.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
    if (failed.length) {
      // Applied on some replicas only: put those back, so a fault reported as failed acts nowhere.
      const undone = await Promise.allSettled(before.map((b) => admin(b.ep, token, b.previous)));
      const left = before.filter((_, i) => undone[i]?.status === "rejected").map((b) => b.host);
      const back = before.filter((_, i) => undone[i]?.status === "fulfilled").map((b) => b.host);
      if (back.length) failed.push(`switched back ${back.join(", ")}`);
      if (left.length) failed.push(`could not switch back ${left.join(", ")}`);
      throw new Error(failed.join("; "));
    }
    return {
      detail: { service: f.service, containers: before.map((b) => b.host), set: f.set },
      revert: async () => {
        const failed: string[] = [];
        await Promise.all(
          before.map(async (b) => {
            // A replica that crashed meanwhile comes back with its start-up settings: nothing to undo.
            // Re-resolved: a restarted container has a new published port.
            await runtime
              .endpoint(b.c.service, b.c.replica, b.c.port)
              .then((ep) => admin(ep, token, b.previous))
              .catch((e: Error) => failed.push(`${b.host}: ${e.message}`));
          }),
        );
        if (failed.length) throw new Error(`could not switch back ${failed.join("; ")}`);
        return { containers: before.map((b) => b.host), restored: before[0]?.previous };
      },
    };
  },
};
