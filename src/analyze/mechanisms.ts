// Mechanism attribution: each mechanism gets a score in [0, 1] and the numbers behind it, from
// the impact window (fault start → end of the run) against the baseline, measured from the
// dependencies' own counters (figures.ts) so it holds for a system whose app exports nothing. A
// score of 0.5 or more is a finding; under 0.2 the mechanism is absent; between, a contributing sign.
import {
  appSource,
  cacheHits,
  connections,
  dbCalls,
  dbCallsPerRequest,
  dbFailures,
  dbServiceMs,
  isDatabase,
  lbLayer,
  max,
  names,
  type Span,
  total,
  userRequests,
} from "./figures.js";
import type { Series, ServiceSecond } from "./series.js";

export type { Span } from "./figures.js";

export type MechanismName = "retries" | "queuing" | "load-shift" | "connection-churn" | "restarts";

export interface Mechanism {
  name: MechanismName;
  score: number;
  /** the figures that support (or fail to support) it, named for a report */
  numbers: Record<string, number | string | null>;
  /** one sentence, for people */
  finding: string;
  /** where each figure came from: "database calls: db (postgres pg_stat_database transactions)" */
  sources?: string[];
}

export interface Backpressure {
  /** share of requests the services refused on purpose (shed, 503 before doing work) */
  shed_share: number | null;
  /** did admitted requests keep succeeding (success among requests that were not shed ≥ 90 %)? */
  held: boolean | null;
  admitted_success: number | null;
  /** where the refusals were counted */
  source?: string;
}

const clamp01 = (x: number) => Math.max(0, Math.min(1, x));
const round = (x: number | null, d = 2) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

export function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** The worst median latency users saw for 3 seconds running in a span: a short episode shows
 * whole, where the span's median would dilute it with the quiet seconds around it. */
export function sustainedP50(s: Series, span: Span): number | null {
  let worst: number | null = null;
  for (let t = span.from; t < span.to; t++) {
    const m = median(s.users.slice(t, Math.min(span.to, t + 3)).flatMap((u) => (u.p50 === null ? [] : [u.p50])));
    if (m !== null && (worst === null || m > worst)) worst = m;
  }
  return worst;
}

export const userP50 = (s: Series, span: Span) => median(s.users.slice(span.from, span.to).flatMap((u) => (u.p50 === null ? [] : [u.p50])));

/** Database CPU as a share of its limit (1 = saturated), when a limit is declared. */
export function dbSaturation(s: Series, span: Span, cpuLimits: Record<string, number>): number | null {
  let worst: number | null = null;
  for (const [svc, k] of Object.entries(s.kinds)) {
    const limit = cpuLimits[svc];
    if (!isDatabase(k) || !limit) continue;
    const rows = (s.services[svc] ?? [])
      .slice(span.from, span.to)
      .map((r) => r.cpu_cores)
      .filter((v): v is number => v !== undefined);
    if (rows.length) worst = Math.max(worst ?? 0, (median(rows) as number) / limit);
  }
  return worst;
}

export interface MechanismOptions {
  /** leave the app's own /metrics out: judge from the dependencies' counters and the users alone */
  blackBox?: boolean;
}

/** What a share of requests or a factor reads as. */
const x2 = (v: number | null) => (v === null ? "-" : v.toFixed(2));

export function mechanisms(
  s: Series,
  base: Span,
  impact: Span,
  cpuLimits: Record<string, number>,
  opts: MechanismOptions = {},
): Mechanism[] {
  const blackBox = opts.blackBox === true;
  const out: Mechanism[] = [];
  const reqB = userRequests(s, base);
  const reqI = userRequests(s, impact);
  const usersSource = "users (load driver)";

  // Dependency work per user request, against the baseline (α in the OSDI'22 sense), and what
  // lost cache hits explain: a look-aside cache's miss becomes one database call.
  const callsB = dbCalls(s, base, blackBox);
  const callsI = dbCalls(s, impact, blackBox);
  const perReqB = ratio(callsB.value, callsB.requests ?? reqB);
  const perReqI = ratio(callsI.value, callsI.requests ?? reqI);
  const hitsB = cacheHits(s, base, blackBox);
  const hitsI = cacheHits(s, impact, blackBox);
  const hitPerReqB = ratio(hitsB.value, reqB);
  const hitPerReqI = ratio(hitsI.value, reqI);
  const lostHits = hitPerReqB !== null && hitPerReqI !== null ? Math.max(0, hitPerReqB - hitPerReqI) : 0;
  const expectedI = perReqB === null ? null : perReqB + lostHits;
  const alphaDb = perReqB !== null && perReqI !== null && perReqB > 0 ? perReqI / perReqB : null;
  const failures = dbFailures(s, impact, blackBox);
  const userFailures = s.users.slice(impact.from, impact.to).reduce((a, u) => a + u.s5xx, 0);

  // Retries, layer by layer. The LB's from its own counters (attempts sent to servers per request
  // received); the whole stack's from the database (calls per user request beyond what lost hits
  // explain); the app's as the rest — or, with its /metrics, from its own attempt counters.
  const lbI = lbLayer(s, impact);
  const lbB = lbLayer(s, base);
  const lbFactor = lbI && lbI.requests > 0 ? lbI.attempts / lbI.requests : null;
  const lbBase = lbB && lbB.requests > 0 ? lbB.attempts / lbB.requests : null;
  const lbLayerFactor = lbFactor === null ? null : lbFactor / Math.max(1, lbBase ?? 1);
  const stack = perReqI !== null && expectedI !== null && expectedI > 0.05 ? perReqI / expectedI : null;
  const appCalls = blackBox ? null : total(s, "app", "db_queries_per_s", impact);
  const appRetries = blackBox ? null : total(s, "app", "retries_per_s", impact);
  const ownFactor = (calls: number | null, retries: number | null) =>
    calls !== null && retries !== null && calls - retries > 0 ? calls / (calls - retries) : null;
  // Against its own baseline, as the LB layer: an app that always retries a little is not storming.
  const appOwnI = ownFactor(appCalls, appRetries);
  const appOwnB = blackBox ? null : ownFactor(total(s, "app", "db_queries_per_s", base), total(s, "app", "retries_per_s", base));
  const appOwn = appOwnI === null ? null : appOwnI / Math.max(1, appOwnB ?? 1);
  const appLayer = appOwn ?? (stack !== null ? stack / (lbLayerFactor ?? 1) : null);
  const product = appLayer !== null ? appLayer * (lbLayerFactor ?? 1) : null;
  const retried = Math.max(stack ?? 1, product ?? 1);
  const failed = (failures.value ?? 0) > 0 || userFailures > 0 || (lbI?.retries ?? 0) > 0;
  out.push({
    name: "retries",
    // More calls per request than lost hits explain is a retry only with failures to retry.
    score: round(clamp01((retried - 1) / 1.5) * (failed ? 1 : 0.3)) ?? 0,
    numbers: {
      db_calls_per_request: round(perReqI),
      baseline_db_calls_per_request: round(perReqB),
      explained_by_lost_hits: round(expectedI),
      stack_amplification: round(stack),
      lb_layer: round(lbLayerFactor),
      app_layer: round(appLayer),
      baseline_app_layer: round(appOwnB),
      layers_product: round(product),
      lb_retries: lbI ? Math.round(lbI.retries) : null,
      lb_redispatches: lbI ? Math.round(lbI.redispatches) : null,
      db_failures: failures.value === null ? null : Math.round(failures.value),
      users_5xx: userFailures,
    },
    sources: [
      `database calls: ${callsI.source}`,
      `cache hits: ${hitsI.source}`,
      `requests: ${usersSource}`,
      ...(lbI ? [`LB layer: ${lbI.source}`] : []),
      `app layer: ${appOwn !== null ? `${appSource(s, ["db_queries", "retries"])}: attempts / (attempts − retries), against its baseline` : "what the database counted beyond the LB layer"}`,
      `failures: ${failures.source}`,
    ],
    finding:
      perReqI === null
        ? "no database calls counted: retries at the database cannot be told"
        : `${x2(perReqI)} database calls per user request (baseline ${x2(perReqB)}, lost cache hits explain ${x2(expectedI)}): ${x2(stack)}× the calls the requests needed` +
          (lbLayerFactor !== null
            ? `; LB layer ${x2(lbLayerFactor)}× (${Math.round(lbI?.retries ?? 0)} retries, ${Math.round(lbI?.redispatches ?? 0)} redispatches)`
            : "") +
          (appLayer !== null
            ? `, app layer ${x2(appLayer)}×${appOwn !== null ? " (its own counters)" : ""}, product ${x2(product)}×`
            : "") +
          `; ${Math.round(failures.value ?? 0)} database calls failed or were cancelled`,
  });

  // Queuing: latency far above the service time, with any queue that is visible from outside
  // (HAProxy's, waiting database backends) or exported (the app's own).
  const p50b = userP50(s, base);
  const p50i = sustainedP50(s, impact);
  const latRatio = ratio(p50i, p50b);
  const lbQueue = max(s, "haproxy", "queue", impact);
  const dbWaiting = max(s, "postgres", "waiting", impact);
  const appQueue = blackBox ? null : max(s, "app", "queue_depth", impact);
  const waitSum = blackBox ? null : total(s, "app", "queue_wait_sum_per_s", impact);
  const waitN = blackBox ? null : total(s, "app", "queue_wait_count_per_s", impact);
  const meanWait = ratio(waitSum, waitN);
  const queue = Math.max(lbQueue ?? 0, appQueue ?? 0, dbWaiting ?? 0);
  const visible = [
    lbQueue ? `LB queue up to ${lbQueue}` : null,
    dbWaiting ? `database backends waiting up to ${dbWaiting}` : null,
    appQueue ? `app queue up to ${appQueue}` : null,
  ].filter((q): q is string => q !== null);
  // pg_stat_statements counts finished statements only: where most calls were cancelled, the
  // finished few do not tell the service time.
  const svc = (span: Span, calls: number | null) => {
    const f = dbServiceMs(s, span);
    return f.counted !== null && calls !== null && f.counted >= 0.5 * calls ? f : { ...f, value: null };
  };
  const svcB = svc(base, callsB.value);
  const svcI = svc(impact, callsI.value);
  const latScore = latRatio === null ? 0 : clamp01(Math.log10(Math.max(1, latRatio)) / 2);
  // Database backends waiting on locks or I/O are few by nature: 5 at once is a deep queue there.
  const queueScore = queue >= 10 || (dbWaiting ?? 0) >= 5 || (meanWait ?? 0) >= 0.25 ? 1 : queue > 0 ? 0.5 : 0;
  out.push({
    name: "queuing",
    // Without a visible queue (it may sit in a connection pool nobody exports), latency far above
    // the baseline is still the queuing signature, weighed a little lower.
    score: round(queueScore > 0 ? Math.max(latScore, 0.6 * queueScore) : latScore * 0.8) ?? 0,
    numbers: {
      p50_ms: round(p50i, 1),
      baseline_p50_ms: round(p50b, 1),
      latency_ratio: round(latRatio, 1),
      max_queue: queue > 0 ? queue : null,
      lb_queue: lbQueue,
      db_waiting: dbWaiting,
      app_queue: appQueue,
      mean_queue_wait_s: round(meanWait, 3),
      db_service_ms: round(svcI.value, 2),
      baseline_db_service_ms: round(svcB.value, 2),
    },
    sources: [
      `latency: ${usersSource}`,
      ...(lbQueue !== null ? [`LB queue: ${names(s, "haproxy")} (haproxy qcur)`] : []),
      ...(dbWaiting !== null ? [`waiting backends: ${names(s, "postgres")} (pg_stat_activity)`] : []),
      ...(appQueue !== null ? [`app queue: ${appSource(s, ["queue_depth"])}`] : []),
      ...(svcI.value !== null ? [`service time: ${svcI.source}`] : []),
    ],
    finding:
      latRatio === null
        ? "no latency in one of the windows"
        : `median latency ${round(p50i, 0)} ms against ${round(p50b, 1)} ms before (×${round(latRatio, 0)})` +
          (svcI.value !== null ? `, while the database's own statements took ${x2(svcI.value)} ms (baseline ${x2(svcB.value)} ms)` : "") +
          (queue > 0
            ? `; ${visible.join(", ")}`
            : "; no queue is visible from outside (it may be a connection pool nobody exports): the latency is the evidence"),
  });

  // Load shift: the database carries what the cache no longer absorbs — only when the cache's own
  // hits per request fell and the database's calls rose by about what those lost hits explain.
  const sat = dbSaturation(s, impact, cpuLimits);
  const multiple = ratio(
    callsI.value === null ? null : callsI.value / Math.max(1, impact.to - impact.from),
    Math.max(1, (callsB.value ?? 0) / Math.max(1, base.to - base.from)),
  );
  const cacheKnown = hitPerReqB !== null;
  // A database at its CPU limit finishes only part of what is asked of it: the calls it completed
  // then fall short of the lost hits because it is the bottleneck, so half the usual bar there.
  const saturated = sat !== null && sat >= 0.9;
  const bar = (saturated ? 0.25 : 0.5) * lostHits;
  // The count that carries the database's work: its transactions where they clear the bar, else
  // its statements where those rose more (a real app's many statements in a few transactions).
  const dbLoad = dbCallsPerRequest(s, base, impact, blackBox, bar);
  const rise = dbLoad.calls.rise;
  const explained = rise !== null && rise > 0 && lostHits > 0.05 ? Math.min(rise, lostHits) / Math.max(rise, lostHits) : 0;
  const picked = dbLoad.picked;
  const shifted = picked.rise !== null && picked.rise >= bar;
  // named in the finding where they carried the shift
  const byStatements = shifted && picked.count === "statements";
  out.push({
    name: "load-shift",
    score: cacheKnown && lostHits >= 0.1 && shifted ? (round(clamp01(lostHits / 0.5) * 0.7 + (saturated ? 0.3 : 0)) ?? 0) : 0,
    numbers: {
      cache_hits_per_request: round(hitPerReqI),
      baseline_cache_hits_per_request: round(hitPerReqB),
      db_calls_per_request: round(perReqI),
      baseline_db_calls_per_request: round(perReqB),
      share_explained_by_lost_hits: round(explained),
      db_load_multiple: round(multiple, 1),
      alpha_db: round(alphaDb, 1),
      db_cpu_share_of_limit: round(sat),
      db_statements_per_request: round(dbLoad.statements.later),
      baseline_db_statements_per_request: round(dbLoad.statements.base),
    },
    sources: [
      `cache hits: ${hitsI.source}`,
      `database calls: ${callsI.source}`,
      `requests: ${usersSource}`,
      ...(sat !== null ? ["database CPU: its cgroup"] : []),
      ...(byStatements ? [`statements: ${picked.source}`] : []),
    ],
    finding: !cacheKnown
      ? "no cache in the topology: no load could shift from one"
      : `cache hits per request ${x2(hitPerReqB)} → ${x2(hitPerReqI)}; database calls per request ${x2(perReqB)} → ${x2(perReqI)}` +
        (rise !== null && rise > 0 ? ` (lost hits explain ${Math.round(explained * 100)} % of the rise)` : "") +
        (sat !== null ? `; database CPU at ${Math.round(sat * 100)} % of its limit` : "") +
        (byStatements ? `; its statements per request ${x2(picked.base)} → ${x2(picked.later)} (pg_stat_statements)` : "") +
        (saturated && shifted && (picked.rise ?? 0) < 0.5 * lostHits
          ? " (at its CPU limit it finishes only part of what is asked: half the bar)"
          : ""),
  });

  // Connection churn at any dependency: new connections per request above the baseline's, as the
  // dependency itself counts them (attempts at a dead one are not churn there), and refusals.
  const conns = connections(s, impact);
  const connsB = new Map(connections(s, base).map((c) => [c.dep, c]));
  let churnScore = 0;
  const churnNumbers: Record<string, number | null> = {};
  const churnWords: string[] = [];
  for (const c of conns) {
    const b = connsB.get(c.dep);
    const per = ratio(c.opened, reqI);
    const perB = ratio(b?.opened ?? null, reqB) ?? 0;
    churnScore = Math.max(churnScore, clamp01(((per ?? 0) - perB) / 0.5), c.refusedWord === "refused" && (c.refused ?? 0) > 0 ? 0.7 : 0);
    churnNumbers[`${c.dep}_new_connections_per_request`] = round(per);
    churnNumbers[`${c.dep}_baseline_new_connections_per_request`] = round(perB);
    churnNumbers[`${c.dep}_${c.refusedWord === "refused" ? "refused" : "fatal_sessions"}`] =
      c.refused === null ? null : Math.round(c.refused);
    churnWords.push(
      `${c.dep}: ${c.opened === null ? "-" : Math.round(c.opened)} new connections (${x2(per)} per request, baseline ${x2(perB)}), ${Math.round(c.refused ?? 0)} ${c.refusedWord}`,
    );
  }
  if (!conns.length && !blackBox) {
    // Only the app's count of its cache connections is left.
    const appConns = total(s, "app", "cache_connections_per_s", impact);
    const appConnsB = total(s, "app", "cache_connections_per_s", base);
    const per = ratio(appConns, reqI);
    const perB = ratio(appConnsB, reqB) ?? 0;
    churnScore = clamp01(((per ?? 0) - perB) / 0.5);
    churnNumbers.app_cache_connections_per_request = round(per);
    if (appConns !== null) churnWords.push(`the app opened ${appConns} cache connections (${x2(per)} per request, baseline ${x2(perB)})`);
  }
  out.push({
    name: "connection-churn",
    score: round(churnScore) ?? 0,
    numbers: churnNumbers,
    sources: [...conns.map((c) => c.source), `requests: ${usersSource}`],
    finding: churnWords.length ? churnWords.join("; ") : "no dependency counts its connections",
  });

  // Crash synchrony and restart loops: restarts by the platform and by the app's master, OOM kills.
  const containerRestarts = Object.keys(s.kinds).reduce((a, svc) => a + sum(s.services[svc], "restarts_per_s", impact), 0);
  const workerRestarts = blackBox ? 0 : (total(s, "app", "worker_restarts_per_s", impact) ?? 0);
  const ooms = Object.keys(s.kinds).reduce((a, svc) => a + sum(s.services[svc], "oom_kills", impact), 0);
  const allDown = Object.entries(s.kinds).filter(
    ([svc, k]) =>
      k === "app" && (s.services[svc] ?? []).slice(impact.from, impact.to).some((r) => r.running === 0 && (r.replicas ?? 0) > 0),
  );
  // From the outside: processes started in app containers (their cgroups), for when the app's own
  // counter cannot be read — a master replacing workers may have none to answer its /metrics.
  const processStarts = Object.entries(s.kinds)
    .filter(([, k]) => k === "app" || k === "image")
    .reduce((a, [svc]) => a + sum(s.services[svc], "procs_started_per_s", impact), 0);
  const restarts = Math.max(containerRestarts + workerRestarts, processStarts);
  out.push({
    name: "restarts",
    score: restarts >= 3 || allDown.length > 0 || ooms >= 2 ? 1 : restarts > 0 || ooms > 0 ? 0.4 : 0,
    sources: [
      "container restarts and OOM kills: the engine (docker inspect)",
      "processes started: the app containers' cgroups",
      ...(blackBox ? [] : ["worker replacements: the app's /metrics"]),
    ],
    numbers: {
      container_restarts: containerRestarts,
      worker_restarts: workerRestarts,
      process_starts: processStarts,
      oom_kills: ooms,
      services_with_no_replica_up: allDown.map(([svc]) => svc).join(", ") || null,
    },
    // Sums of per-second rates: a second with no reading is filled in, so a count can be fractional.
    finding: `${Math.round(containerRestarts)} container restarts, ${blackBox ? "" : `${Math.round(workerRestarts)} worker replacements (the app's counter), `}${Math.round(processStarts)} processes started in app containers (cgroups), ${Math.round(ooms)} OOM kills${allDown.length ? `; no replica of ${allDown.map(([x]) => x).join(", ")} was up at some point` : ""}`,
  });
  return out;
}

function sum(rows: ServiceSecond[] | undefined, key: string, span: Span): number {
  return (rows ?? []).slice(span.from, span.to).reduce((a, r) => a + (r[key] ?? 0), 0);
}

/** Shedding: requests refused on purpose. From the app's own counters when it exports them; from
 * outside (a black box) a 503 is the standard refusal, so the users' 503 responses stand for it. */
export function backpressure(s: Series, impact: Span, blackBox = false): Backpressure {
  const users = s.users.slice(impact.from, impact.to);
  const good = users.reduce((a, u) => a + u.good, 0);
  const shedApp = blackBox ? null : total(s, "app", "shed_per_s", impact);
  const requestsApp = blackBox ? null : total(s, "app", "requests_per_s", impact);
  const fromApp = shedApp !== null && requestsApp !== null;
  // A record from before 503s were counted apart cannot tell a refusal from a relayed failure.
  const counted503 = users.some((u) => u.s503 !== null);
  if (!fromApp && !counted503)
    return { shed_share: null, held: null, admitted_success: null, source: "unknown: this record predates counting 503s apart" };
  const shed = fromApp ? shedApp : users.reduce((a, u) => a + (u.s503 ?? 0), 0);
  const requests = fromApp ? requestsApp : users.reduce((a, u) => a + u.sent, 0);
  const share = ratio(shed, requests);
  const admitted = (requests ?? 0) - (shed ?? 0);
  const admittedSuccess = admitted > 0 ? Math.min(1, good / admitted) : null;
  return {
    shed_share: round(share, 3),
    // From outside, a 503 from a service shedding on purpose and one an LB makes when its retries
    // are spent look alike (measured: HAProxy answered every failed request of a two-layer retry
    // storm with 503): the share is shown, whether shedding held is not judged.
    held: !fromApp || share === null || share < 0.01 ? null : (admittedSuccess ?? 0) >= 0.9,
    admitted_success: round(admittedSuccess, 3),
    source: fromApp
      ? `${appSource(s, ["shed", "requests"])}: shed, requests`
      : "users (load driver: 503 responses); whether shedding held is not judged from outside",
  };
}
