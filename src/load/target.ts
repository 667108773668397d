// Where load may go: loopback, or the run's own containers on the network it created (the
// runtime names their addresses); checked on the URL and again on the resolved address.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Endpoint } from "./http1.js";
import type { LoadSpec } from "./types.js";

const LOOPBACK_HOSTNAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);
const METHODS = new Set(["GET", "POST", "PUT", "DELETE"]);

/** True when `url` is an http(s) URL whose host is 127.0.0.1, localhost or ::1. */
export function isLoopbackUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return false;
  return LOOPBACK_HOSTNAMES.has(parsed.hostname);
}

const isLoopbackAddress = (a: string) => a === "::1" || (isIP(a) === 4 && a.startsWith("127."));

const isOwnUrl = (url: string, own: readonly string[]) => {
  try {
    const u = new URL(url);
    return u.protocol === "http:" && own.includes(u.hostname);
  } catch {
    return false;
  }
};

export function validateSpec(spec: LoadSpec): void {
  if (typeof spec.url !== "string" || !(isLoopbackUrl(spec.url) || isOwnUrl(spec.url, spec.ownHosts ?? []))) {
    throw new Error(
      `load: refusing url ${JSON.stringify(spec.url)}: only http://127.0.0.1, http://localhost, http://[::1] or the run's own containers are allowed`,
    );
  }
  if (new URL(spec.url).protocol !== "http:") {
    throw new Error(`load: refusing url ${JSON.stringify(spec.url)}: only http:// is supported`);
  }
  if (spec.method !== undefined && !METHODS.has(spec.method)) {
    throw new Error(`load: unsupported method ${JSON.stringify(spec.method)}`);
  }
  if (!Array.isArray(spec.phases) || spec.phases.length === 0) {
    throw new Error("load: at least one phase is required");
  }
  spec.phases.forEach((p, i) => {
    if (!Number.isFinite(p.duration) || p.duration <= 0) {
      throw new Error(`load: phase ${i}: duration must be a positive number of ms`);
    }
    if (!Number.isFinite(p.rate) || p.rate < 0) {
      throw new Error(`load: phase ${i}: rate must be a non-negative number (req/s)`);
    }
    if (p.to !== undefined && (!Number.isFinite(p.to) || p.to < 0)) {
      throw new Error(`load: phase ${i}: to must be a non-negative number (req/s)`);
    }
  });
  if (!Number.isFinite(spec.timeout) || spec.timeout <= 0) {
    throw new Error("load: timeout must be a positive number of ms");
  }
  if (!Number.isInteger(spec.connections) || spec.connections < 1) {
    throw new Error("load: connections must be an integer >= 1");
  }
  const sh = spec.share;
  if (sh !== undefined && !(Number.isInteger(sh.of) && sh.of >= 1 && Number.isInteger(sh.index) && sh.index >= 0 && sh.index < sh.of)) {
    throw new Error(`load: share ${JSON.stringify(sh)}: index must be an integer with 0 <= index < of`);
  }
}

/** The numeric address and port to connect to (one DNS lookup per run, not per connection). */
export async function resolveTarget(url: URL, ownHosts: readonly string[] = []): Promise<Endpoint> {
  const name = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const host = isIP(name) ? name : (await lookup(name)).address;
  if (!isLoopbackAddress(host) && !ownHosts.includes(host))
    throw new Error(`load: refusing ${url.hostname}: it resolves to ${host}, neither loopback nor one of the run's containers`);
  return { host, port: url.port ? Number(url.port) : 80 };
}
