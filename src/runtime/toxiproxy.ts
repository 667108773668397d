// A thin guard around toxiproxy-node-client 4.1, which has no timeout, drops the server's error
// body and never confirms a change: every call here is bounded, errors name the proxy and toxic,
// and each toxic change is checked against the server's own listing.
import { Toxiproxy } from "toxiproxy-node-client";
import type { Endpoint } from "./types.js";
import type { ProxyPlan } from "../topology/plan.js";

const CALL_MS = 3000;

export interface ToxicSpec {
  name: string;
  type: "latency" | "bandwidth" | "slow_close" | "timeout" | "slicer" | "limit_data" | "reset_peer";
  stream: "upstream" | "downstream";
  toxicity: number;
  attributes: Record<string, number>;
}

export class ToxiproxyApi {
  private readonly client: Toxiproxy;
  private readonly base: string;

  constructor(readonly endpoint: Endpoint) {
    this.base = `http://${endpoint.host}:${endpoint.port}`;
    this.client = new Toxiproxy(this.base);
  }

  async createProxies(plans: ProxyPlan[]): Promise<void> {
    for (const p of plans)
      await bounded(
        `create proxy ${p.name} (${p.listen} → ${p.upstream})`,
        this.client.createProxy({ name: p.name, listen: p.listen, upstream: p.upstream }),
      );
  }

  async addToxic(proxy: string, t: ToxicSpec): Promise<void> {
    const what = `add ${t.type} toxic "${t.name}" to proxy ${proxy}`;
    try {
      // Our own request, not the client's: a timed-out call is cancelled, not left to land later.
      const res = await bounded(
        what,
        fetch(`${this.base}/proxies/${encodeURIComponent(proxy)}/toxics`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(t),
          signal: AbortSignal.timeout(CALL_MS),
        }),
      );
      if (!res.ok) throw new Error(`toxiproxy: ${what}: HTTP ${res.status}: ${(await res.text()).trim()}`);
    } catch (e) {
      // The server may have taken the toxic before the call was cut off: reconcile with its state,
      // so a fault reported as not applied is not acting either.
      await this.removeToxic(proxy, t.name).catch(() => {});
      throw e;
    }
    if (!(await this.toxicNames(proxy)).includes(t.name)) {
      await this.removeToxic(proxy, t.name).catch(() => {});
      throw new Error(`${what}: the server does not list it afterwards`);
    }
  }

  async removeToxic(proxy: string, name: string): Promise<void> {
    const what = `remove toxic "${name}" from proxy ${proxy}`;
    await bounded(what, rawDelete(this.base, `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(name)}`));
    if ((await this.toxicNames(proxy)).includes(name)) throw new Error(`${what}: it is still listed afterwards`);
  }

  /** Link down (false) or up (true). A disabled proxy closes its connections and refuses new ones. */
  async setEnabled(proxy: string, enabled: boolean): Promise<void> {
    const what = `${enabled ? "enable" : "disable"} proxy ${proxy}`;
    const res = await bounded(
      what,
      fetch(`${this.base}/proxies/${encodeURIComponent(proxy)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ enabled }),
        signal: AbortSignal.timeout(CALL_MS),
      }),
    );
    if (!res.ok) throw new Error(`toxiproxy: ${what}: HTTP ${res.status}: ${(await res.text()).trim()}`);
    const state = (await res.json()) as { enabled: boolean };
    if (state.enabled !== enabled) throw new Error(`toxiproxy: ${what}: the server reports enabled=${state.enabled}`);
  }

  /** Read straight from the server: the client's Proxy object does not carry its toxics. */
  async toxicNames(proxy: string): Promise<string[]> {
    const res = await bounded(
      `list toxics of proxy ${proxy}`,
      fetch(`${this.base}/proxies/${encodeURIComponent(proxy)}/toxics`, { signal: AbortSignal.timeout(CALL_MS) }),
    );
    if (!res.ok) throw new Error(`toxiproxy: list toxics of proxy ${proxy}: HTTP ${res.status}: ${(await res.text()).trim()}`);
    return ((await res.json()) as Array<{ name: string }>).map((t) => t.name);
  }

  /** Every toxic on every proxy — used to check that nothing is left active. */
  async allToxics(): Promise<Array<{ proxy: string; toxic: string }>> {
    const all = await bounded("list proxies", this.client.getAll());
    const out: Array<{ proxy: string; toxic: string }> = [];
    for (const name of Object.keys(all)) for (const toxic of await this.toxicNames(name)) out.push({ proxy: name, toxic });
    return out;
  }
}

async function rawDelete(base: string, path: string): Promise<void> {
  const res = await fetch(`${base}${path}`, { method: "DELETE", signal: AbortSignal.timeout(CALL_MS) });
  if (!res.ok && res.status !== 404) throw new Error(`HTTP ${res.status}: ${(await res.text()).trim()}`);
}

function bounded<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`toxiproxy: ${what}: no answer within ${CALL_MS} ms`)), CALL_MS);
  });
  return Promise.race([p, timeout])
    .catch((e: Error) => {
      throw e.message.startsWith("toxiproxy:") ? e : new Error(`toxiproxy: ${what}: ${e.message}`);
    })
    .finally(() => clearTimeout(timer));
}
