// Cross-field checks the schema cannot express: names that must refer to declared services,
// links that faults act on, and a fault timeline that fits inside the load.
//
// They run on every part of the file that passed the schema on its own, even when other parts
// failed, so one run reports a bad link next to a type error instead of one after the other.
import { Baseline, Fault, healthPath, MAX_DURATION_MS, isLinkFault, Link, Load, RatePhase, Service, type ServiceFault } from "./schema.js";
import { checkKinds } from "./kinds.js";
import type { PathIssue } from "./zod-issues.js";

// Timeline points in plain seconds, as authors write `at:`; formatMs would round 61s to "1.0m".
const seconds = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

type Parser<T> = { safeParse(v: unknown): { success: true; data: T } | { success: false } };
type StopOrStart = Extract<Fault, { kind: "kill" | "stop" | "start" | "host-down" }>;

/** The pieces of a possibly invalid scenario that are individually valid, by their index. */
interface Parts {
  /** Declared service names → parsed service, undefined when that service itself is invalid.
   * Undefined when `services` is not a usable mapping: then no reference can be judged. */
  services?: Map<string, Service | undefined>;
  links: [number, Link][];
  target?: string;
  /** End of the load in ms, when every phase duration is valid. */
  loadEnd?: number;
  /** load.generators and load.connections, when valid (with their defaults) */
  generators?: number;
  connections?: number;
  faults: [number, Fault][];
  /** Whether every link / fault passed; a check that needs the whole list (is there such a link?
   * was it killed earlier?) would otherwise blame a valid entry for an invalid one. */
  allLinks: boolean;
  allFaults: boolean;
  baseline?: Baseline;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function valid<T>(schema: Parser<T>, v: unknown): T | undefined {
  const r = schema.safeParse(v);
  return r.success ? r.data : undefined;
}

function indexed<T>(items: unknown, schema: Parser<T>): [number, T][] {
  if (!Array.isArray(items)) return [];
  return items.flatMap((item, i): [number, T][] => {
    const v = valid(schema, item);
    return v === undefined ? [] : [[i, v]];
  });
}

function salvage(raw: Record<string, unknown>): Parts {
  const links = indexed(raw.links, Link);
  const faults = indexed(raw.faults, Fault);
  const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  const parts: Parts = { links, faults, allLinks: links.length === count(raw.links), allFaults: faults.length === count(raw.faults) };
  if (isObject(raw.services) && Object.keys(raw.services).length > 0)
    parts.services = new Map(Object.entries(raw.services).map(([name, s]) => [name, valid(Service, s)]));
  const baseline = valid(Baseline, raw.baseline);
  if (baseline) parts.baseline = baseline;
  const load = isObject(raw.load) ? raw.load : {};
  parts.target = valid(Load.shape.target, load.target);
  parts.generators = valid(Load.shape.generators, load.generators);
  parts.connections = valid(Load.shape.connections, load.connections);
  if (Array.isArray(load.phases) && load.phases.length > 0) {
    const durations = load.phases.map((p) => valid(RatePhase.shape.duration, isObject(p) ? p.duration : undefined));
    if (durations.every((d) => d !== undefined)) parts.loadEnd = durations.reduce((a, b) => a + b, 0);
  }
  return parts;
}

export function checkScenario(raw: Record<string, unknown>): PathIssue[] {
  const parts = salvage(raw);
  return [
    ...checkReferences(parts),
    ...checkLinks(parts),
    ...checkFaults(parts),
    ...checkTimeline(parts),
    ...checkBaseline(parts),
    ...checkKinds(raw),
    ...checkLimits(parts),
  ];
}

// A baseline requirement must be measurable: a share of a limit needs that limit, occupancy needs
// the reference app's slots, an uncached demand needs a database whose reads cost declared CPU.
function checkBaseline(parts: Parts): PathIssue[] {
  const out: PathIssue[] = [];
  for (const [name, req] of Object.entries(parts.baseline?.require ?? {})) {
    const at = (metric: string) => ["baseline", "require", name, metric];
    const message = unknownService(parts, name);
    if (message) {
      out.push({ path: ["baseline", "require", name], message });
      continue;
    }
    const svc = parts.services?.get(name);
    if (!svc) continue;
    if (req.cpu && svc.cpus === undefined)
      out.push({
        path: at("cpu"),
        message: `service ${name} has no cpus limit: give it one so its CPU share means the same on every host`,
      });
    if (req.memory && svc.memory === undefined) out.push({ path: at("memory"), message: `service ${name} has no memory limit` });
    if (req.busy && svc.kind !== "app")
      out.push({ path: at("busy"), message: `busy is the reference app's slot occupancy; ${name} is ${svc.kind}` });
    if (req["cpu-uncached"]) {
      const readers = parts.links
        .map(([, l]) => l)
        .filter((l) => l.to === name)
        .map((l) => parts.services?.get(l.from))
        .filter((s) => s?.kind === "app" && Number((s.config as Record<string, unknown>).dbQueryCpuMs ?? 0) > 0);
      if (svc.kind !== "postgres" && svc.kind !== "mariadb")
        out.push({ path: at("cpu-uncached"), message: `cpu-uncached is a database's demand; ${name} is ${svc.kind}` });
      else if (svc.cpus === undefined) out.push({ path: at("cpu-uncached"), message: `service ${name} has no cpus limit` });
      else if (readers.length === 0)
        out.push({
          path: at("cpu-uncached"),
          message: `no app linked to ${name} declares dbQueryCpuMs, so its reads have no CPU cost to measure`,
        });
    }
  }
  return out;
}

/** Containers a run may start (each replica is two: the service and its network holder). */
export const MAX_REPLICAS_TOTAL = 50;

// What the harness cannot do or undo: a run longer than a day, more replicas than one machine
// should hold, two faults of one name (the first would never be reverted), a memory hog in a
// container with no memory limit (it would take the host's memory, not the service's).
function checkLimits(parts: Parts): PathIssue[] {
  const out: PathIssue[] = [];
  if (parts.loadEnd !== undefined && parts.loadEnd > MAX_DURATION_MS)
    out.push({ path: ["load", "phases"], message: `the load lasts ${seconds(parts.loadEnd)}; at most 24h` });
  const replicas = [...(parts.services?.values() ?? [])].reduce((a, s) => a + (s?.replicas ?? 1), 0);
  if (parts.generators !== undefined && parts.connections !== undefined && parts.generators > parts.connections)
    out.push({
      path: ["load", "generators"],
      message: `${parts.generators} generators share a cap of ${parts.connections} connections: each needs at least one (raise load.connections)`,
    });
  if (replicas > MAX_REPLICAS_TOTAL)
    out.push({ path: ["services"], message: `${replicas} replicas in all; at most ${MAX_REPLICAS_TOTAL} per run` });
  const named = new Map<string, number>();
  for (const [i, f] of parts.faults) {
    if (f.name === undefined) continue;
    const first = named.get(f.name);
    if (first !== undefined) out.push({ path: ["faults", i, "name"], message: `"${f.name}" is already the name of faults[${first}]` });
    else named.set(f.name, i);
  }
  for (const [i, f] of parts.faults) {
    if (f.kind !== "memory-hog") continue;
    const svc = parts.services?.get(f.service);
    if (!svc) continue;
    if (svc.memory === undefined)
      out.push({
        path: ["faults", i, "service"],
        message: `${f.service} has no memory limit: a memory hog needs one to press against (services.${f.service}.memory)`,
      });
    else if (f.size > svc.memory)
      out.push({
        path: ["faults", i, "size"],
        message: `more than ${f.service}'s memory limit (${svc.memory} bytes): the hog itself would be killed first`,
      });
  }
  return out;
}

function unknownService(parts: Parts, name: string): string | undefined {
  if (!parts.services || parts.services.has(name)) return undefined;
  return `unknown service "${name}" (declared: ${[...parts.services.keys()].join(", ")})`;
}

function checkReferences(parts: Parts): PathIssue[] {
  const out: PathIssue[] = [];
  const ref = (path: PathIssue["path"], name: string) => {
    const message = unknownService(parts, name);
    if (message) out.push({ path, message });
  };
  if (parts.target !== undefined) ref(["load", "target"], parts.target);
  for (const [name, s] of parts.services ?? []) {
    if (s?.kind !== "haproxy" || s.backend === undefined) continue;
    if (s.backend === name) out.push({ path: ["services", name, "backend"], message: "haproxy cannot balance across itself" });
    else ref(["services", name, "backend"], s.backend);
    // HAProxy health-checks over HTTP; a backend with no health path gets no checks to tune.
    const be = s.backend === name ? undefined : parts.services?.get(s.backend);
    if (s.lb?.check && be && healthPath(be) === undefined)
      out.push({
        path: ["services", name, "lb", "check"],
        atKey: true,
        message: `${s.backend} has no health path to check (kind: ${be.kind} without ready.http); give it ready: { http: /path } or drop lb.check`,
      });
  }
  for (const [i, l] of parts.links) {
    ref(["links", i, "from"], l.from);
    ref(["links", i, "to"], l.to);
  }
  for (const [i, f] of parts.faults) if (!isLinkFault(f) && f.kind !== "node") ref(["faults", i, "service"], f.service);
  return out;
}

function checkLinks(parts: Parts): PathIssue[] {
  const out: PathIssue[] = [];
  const seen = new Map<string, number>();
  for (const [i, l] of parts.links) {
    const name = `${l.from}->${l.to}`;
    if (l.from === l.to) out.push({ path: ["links", i, "to"], message: `a link cannot go from "${l.from}" to itself` });
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else out.push({ path: ["links", i], message: `duplicates links[${first}] (${name})` });
  }
  return out;
}

// Faults that name a service or link: does the target exist in the form the fault needs?
function checkFaults(parts: Parts): PathIssue[] {
  const out: PathIssue[] = [];
  for (const [i, f] of parts.faults) {
    if (isLinkFault(f)) {
      const links = parts.links.map(([, l]) => l);
      const link = links.find((l) => `${l.from}->${l.to}` === f.link);
      if (!link) {
        const declared = links.length ? links.map((l) => `${l.from}->${l.to}`).join(", ") : "none";
        if (parts.allLinks) out.push({ path: ["faults", i, "link"], message: `no link ${f.link} is declared (links: ${declared})` });
      } else if (!link.proxy)
        out.push({ path: ["faults", i, "link"], message: `link ${f.link} has proxy: false; a ${f.kind} fault needs proxy: true` });
      continue;
    }
    // A node's name is the cluster's (known at run time, checked by --runtime swarm's preflight).
    if (f.kind === "node") continue;
    const service = parts.services?.get(f.service);
    if (f.kind === "app" && service && service.kind !== "app")
      out.push({
        path: ["faults", i, "service"],
        message: `"${f.service}" is a ${service.kind}; app faults switch the reference app (kind: app)`,
      });
    const replicas = service?.replicas;
    if (f.replica !== undefined && f.count !== undefined)
      out.push({ path: ["faults", i, "count"], message: "give replica or count, not both" });
    if (replicas === undefined) continue;
    const named = f.replica === undefined ? [] : Array.isArray(f.replica) ? f.replica : [f.replica];
    const missing = named.find((r) => r > replicas);
    if (missing !== undefined)
      out.push({ path: ["faults", i, "replica"], message: `"${f.service}" has only ${replicas} replica${replicas === 1 ? "" : "s"}` });
    if (f.count !== undefined && f.count > replicas)
      out.push({ path: ["faults", i, "count"], message: `"${f.service}" has only ${replicas} replica${replicas === 1 ? "" : "s"}` });
  }
  return out;
}

function checkTimeline(parts: Parts): PathIssue[] {
  return [...checkWindows(parts), ...checkOverlaps(parts), ...checkRestarts(parts)];
}

const durationOf = (f: Fault): number | undefined => ("duration" in f ? f.duration : undefined);

/** Every fault has to happen while load is running, or its effect is never measured. */
function checkWindows({ faults, loadEnd }: Parts): PathIssue[] {
  if (loadEnd === undefined) return [];
  const out: PathIssue[] = [];
  const end = seconds(loadEnd);
  for (const [i, f] of faults) {
    const d = durationOf(f);
    if (f.at >= loadEnd) out.push({ path: ["faults", i, "at"], message: `at ${seconds(f.at)} is not before the end of the load (${end})` });
    else if (d !== undefined && f.at + d > loadEnd)
      out.push({ path: ["faults", i, "duration"], message: `runs until ${seconds(f.at + d)}, past the end of the load (${end})` });
  }
  return out;
}

/** What two faults contend for when their windows overlap: the revert of one would undo the
 * other (a partition re-enabled, limits or settings restored), or two toxics of one type stack. */
function contention(a: Fault, b: Fault): string | undefined {
  if (isLinkFault(a) && isLinkFault(b)) {
    if (a.link !== b.link) return undefined;
    if (a.kind === "partition" || b.kind === "partition") return `${a.link} is partitioned then`;
    if (a.kind === b.kind && a.direction === b.direction) return `${a.kind} on ${a.link} ${a.direction}`;
    return undefined;
  }
  if (a.kind === "node" && b.kind === "node")
    return a.node === b.node ? `node ${a.node} is ${a.action === "down" ? "down" : "drained"} then` : undefined;
  if (isLinkFault(a) || isLinkFault(b) || a.kind === "node" || b.kind === "node" || a.service !== b.service || a.kind !== b.kind)
    return undefined;
  const x = a as ServiceFault;
  const y = b as ServiceFault;
  if (!sameReplicas(x, y)) return undefined;
  if (x.kind === "app" && y.kind === "app") {
    const shared = Object.keys(x.set).filter((k) => k in y.set);
    return shared.length ? `app settings ${shared.join(", ")} of "${x.service}"` : undefined;
  }
  if (["pause", "resources", "ulimit", "crashloop", "host-down"].includes(x.kind)) return `${x.kind} of "${x.service}"`;
  return undefined;
}

/** Could the two faults hit a common replica? (A random pick could.) */
function sameReplicas(a: ServiceFault, b: ServiceFault): boolean {
  const list = (f: ServiceFault) => (f.replica === undefined ? undefined : Array.isArray(f.replica) ? f.replica : [f.replica]);
  const ra = list(a);
  const rb = list(b);
  return ra === undefined || rb === undefined || ra.some((r) => rb.includes(r));
}

function checkOverlaps({ faults, loadEnd }: Parts): PathIssue[] {
  const out: PathIssue[] = [];
  // Instant faults (kill, stop, start, restart, a host-down with no duration) have nothing to
  // revert, so nothing to contend for.
  const windowed = faults.filter(
    ([, f]) => !["kill", "stop", "start", "restart"].includes(f.kind) && !(f.kind === "host-down" && f.duration === undefined),
  );
  const until = (f: Fault) => {
    const d = durationOf(f);
    return d === undefined ? (loadEnd ?? Infinity) : f.at + d;
  };
  // One issue per fault, naming the first earlier fault it contends with: a file of 3,000 copies
  // of one fault is 2,999 problems, not 4.5 million (which took 25 s and once the whole heap).
  for (let n = 0; n < windowed.length; n++) {
    const [j, b] = windowed[n] as [number, Fault];
    for (let m = 0; m < n; m++) {
      const [i, a] = windowed[m] as [number, Fault];
      if (!(a.at < until(b) && b.at < until(a))) continue;
      const what = contention(a, b);
      if (!what) continue;
      const end = until(a) === Infinity ? "the end" : seconds(until(a));
      out.push({ path: ["faults", j, "at"], message: `overlaps fault ${i} (${what}, ${seconds(a.at)} to ${end})` });
      break;
    }
  }
  return out;
}

/** A start only makes sense for replicas an earlier kill, stop or host-down took down (and that a
 * host-down's own revert did not bring back). */
function checkRestarts({ faults, services, allFaults }: Parts): PathIssue[] {
  const out: PathIssue[] = [];
  if (!allFaults) return out;
  const stopped = new Map<string, Set<number>>();
  // At equal times starts go first: a kill at the same instant does not count as earlier.
  const rank = (f: Fault) => (f.kind === "start" ? 0 : 1);
  const events = faults
    .flatMap(([i, f]): [number, StopOrStart, boolean][] => {
      if (f.kind === "kill" || f.kind === "stop" || f.kind === "start") return [[i, f, false]];
      if (f.kind !== "host-down") return [];
      if (f.duration === undefined) return [[i, f, false]];
      // Its revert is an implied start of the same replicas when the duration ends.
      const back: StopOrStart = { ...f, kind: "start", at: f.at + f.duration };
      return [
        [i, f, false],
        [i, back, true],
      ];
    })
    .sort(([i, a], [j, b]) => a.at - b.at || rank(a) - rank(b) || i - j);
  for (const [i, f, implied] of events) {
    const replicas = services?.get(f.service)?.replicas;
    if (replicas === undefined) continue;
    const down = stopped.get(f.service) ?? new Set<number>();
    stopped.set(f.service, down);
    const all = Array.from({ length: replicas }, (_, r) => r + 1);
    const named = f.replica === undefined ? undefined : Array.isArray(f.replica) ? f.replica : [f.replica];
    if (f.kind !== "start") {
      // A random pick may take any replica down.
      for (const r of named ?? all) down.add(r);
      continue;
    }
    const ok = named === undefined ? down.size > 0 : named.every((r) => down.has(r));
    if (implied) for (const r of named ?? all) down.delete(r);
    else if (!ok) {
      const what = named === undefined ? `"${f.service}"` : `replica ${named.join(", ")} of "${f.service}"`;
      out.push({ path: ["faults", i, "service"], message: `starts ${what}, but no earlier kill, stop or host-down took it down` });
    } else for (const r of named ?? all) down.delete(r);
  }
  return out;
}
