// Checks that need to know what each kind of service is, so that validate refuses what would only
// break once containers are up: a field that belongs to another kind, reference-app settings the
// app itself would refuse (its own check, src/app/config.ts), load aimed at a service that does not
// speak HTTP, and an SLO no run can meet.
import { RESTART_ONLY_SETTINGS, settingsProblems } from "../app/config.js";
import type { ServiceKind } from "./schema.js";
import { parseDuration } from "./units.js";
import type { PathIssue } from "./zod-issues.js";

type Kind = (typeof ServiceKind.options)[number];

/** Fields that mean something for some kinds only. */
const ONLY: Record<string, readonly Kind[]> = {
  backend: ["haproxy"],
  timeout: ["haproxy"],
  lb: ["haproxy"],
  connections: ["memcached", "redis"],
  config: ["app"],
  build: ["image"],
  metrics: ["image"],
};

/** Kinds whose port answers HTTP (an image is the user's: trusted to). */
const HTTP_KINDS: readonly Kind[] = ["app", "haproxy", "image"];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const kinds = (k: readonly string[]) => k.map((x) => `kind: ${x}`).join(" or ");

export function checkKinds(raw: Record<string, unknown>): PathIssue[] {
  const out: PathIssue[] = [];
  const services = isObject(raw.services) ? raw.services : {};
  const kindOf = (name: unknown): Kind | undefined => {
    const s = typeof name === "string" && Object.hasOwn(services, name) ? services[name] : undefined;
    return isObject(s) && typeof s.kind === "string" ? (s.kind as Kind) : undefined;
  };

  for (const [name, s] of Object.entries(services)) {
    if (!isObject(s) || typeof s.kind !== "string") continue;
    const kind = s.kind as Kind;
    for (const [field, only] of Object.entries(ONLY))
      if (Object.hasOwn(s, field) && !only.includes(kind))
        out.push({ path: ["services", name, field], atKey: true, message: `only for ${kinds(only)}; ${name} is kind: ${kind}` });
    if (kind === "app" && isObject(s.config))
      for (const p of settingsProblems(s.config)) out.push({ path: ["services", name, "config", p.key], atKey: true, message: p.message });
  }

  const load = isObject(raw.load) ? raw.load : {};
  const targetKind = kindOf(load.target);
  if (targetKind && !HTTP_KINDS.includes(targetKind))
    out.push({
      path: ["load", "target"],
      message: `load is HTTP and ${String(load.target)} is kind: ${targetKind}, which does not speak it; aim it at ${kinds(HTTP_KINDS)}`,
    });

  const faults = Array.isArray(raw.faults) ? raw.faults : [];
  faults.forEach((f, i) => {
    if (!isObject(f) || f.kind !== "app" || !isObject(f.set)) return;
    if (kindOf(f.service) !== "app") return; // semantics.ts names the wrong kind
    for (const p of settingsProblems(f.set)) out.push({ path: ["faults", i, "set", p.key], atKey: true, message: p.message });
    for (const key of Object.keys(f.set))
      if ((RESTART_ONLY_SETTINGS as readonly string[]).includes(key))
        out.push({
          path: ["faults", i, "set", key],
          atKey: true,
          message: `"${key}" takes effect only when the app starts; set it in the service's config, not in an app fault`,
        });
  });

  // An SLO is a promise about one distribution: its percentiles cannot decrease.
  const slo = isObject(raw.slo) ? raw.slo : {};
  const order = (["p50", "p95", "p99"] as const).filter((q) => slo[q] !== undefined);
  const ms = (v: unknown) => (typeof v === "number" || typeof v === "string" ? parseDuration(v) : undefined);
  for (let i = 1; i < order.length; i++) {
    const lo = order[i - 1] as string;
    const hi = order[i] as string;
    const a = ms(slo[lo]);
    const b = ms(slo[hi]);
    if (a !== undefined && b !== undefined && b < a)
      out.push({ path: ["slo", hi], message: `${hi} ${String(slo[hi])} is below ${lo} ${String(slo[lo])}: no run can meet both` });
  }
  return out;
}
