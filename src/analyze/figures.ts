// The figures mechanisms are judged on, over a span of seconds, each taken from the component that
// does the work and counts it itself: the database's own counters for its calls, failures, sessions
// and statement time; memcached's and Redis's (INFO) for hits and connections; HAProxy's for the requests it received,
// the attempts it sent to servers, its retries and queue; the load driver for what users sent and
// got. The reference app's /metrics are a second, finer source, used only where no dependency
// counts the same thing (and never in a black-box analysis). Every figure says where it came from.
import type { Series } from "./series.js";

export interface Span {
  from: number;
  to: number;
}

export interface Figure {
  value: number | null;
  /** "db (postgres pg_stat_database)", "users (load driver)"… */
  source: string;
  /** what users sent in the seconds the figure covers: a reader that missed seconds (a saturated
   * database answers its stats late) is compared with the requests of the seconds it saw */
  requests?: number;
}

/** Sum of keys over the seconds where any of them was read, with the users' requests of those seconds. */
function paired(s: Series, kind: string, keys: string[], span: Span): { sum: number; requests: number; seconds: number } | null {
  let sum = 0;
  let requests = 0;
  let seconds = 0;
  for (let t = span.from; t < span.to; t++) {
    let seen = false;
    for (const { rows } of rowsOf(s, kind, { from: t, to: t + 1 }))
      for (const r of rows)
        for (const k of keys)
          if (r[k] !== undefined) {
            sum += r[k] as number;
            seen = true;
          }
    if (seen) {
      requests += s.users[t]?.sent ?? 0;
      seconds++;
    }
  }
  return seconds ? { sum, requests, seconds } : null;
}

/** Whether a service counts as `kind`: a user's image that maps its own metrics onto the app's
 * readings (its scenario's `metrics:`) is read as an app, for those readings. */
const isOf = (s: Series, svc: string, k: string, kind: string) => k === kind || (kind === "app" && s.mapped?.[svc] !== undefined);

/** Rows of every service of a kind (or only `only`, one of them) over a span (replicas already summed per service). */
function rowsOf(s: Series, kind: string, span: Span, only?: string): Array<{ svc: string; rows: Array<Record<string, number>> }> {
  return Object.entries(s.kinds)
    .filter(([svc, k]) => isOf(s, svc, k, kind) && (only === undefined || svc === only))
    .map(([svc]) => ({ svc, rows: (s.services[svc] ?? []).slice(span.from, span.to) }));
}

/** Sum of a key over a span for every service of a kind (or the one named); null when no second had it. */
export function total(s: Series, kind: string, key: string, span: Span, only?: string): number | null {
  let sum = 0;
  let seen = false;
  for (const { rows } of rowsOf(s, kind, span, only))
    for (const r of rows)
      if (r[key] !== undefined) {
        sum += r[key] as number;
        seen = true;
      }
  return seen ? sum : null;
}

export function max(s: Series, kind: string, key: string, span: Span): number | null {
  let m: number | null = null;
  for (const { rows } of rowsOf(s, kind, span))
    for (const r of rows) if (r[key] !== undefined) m = Math.max(m ?? -Infinity, r[key] as number);
  return m;
}

/** The services of a kind, for naming where a figure came from: "db", "app". */
export const names = (s: Series, kind: string) =>
  Object.entries(s.kinds)
    .filter(([svc, k]) => isOf(s, svc, k, kind))
    .map(([svc]) => svc)
    .join(", ");

export const watched = (s: Series, kind: string) => Object.entries(s.kinds).some(([svc, k]) => isOf(s, svc, k, kind));

/** Where the app layer's readings `keys` came from: "app (the app's /metrics)" for the reference
 * app, "web (its /metrics: db_calls_total{outcome="ok"})" for a user's image that maps its own. */
export function appSource(s: Series, keys: string[]): string {
  return Object.entries(s.kinds)
    .filter(([svc, k]) => isOf(s, svc, k, "app"))
    .flatMap(([svc, k]) => {
      if (k === "app") return [`${svc} (the app's /metrics)`];
      const own = keys.flatMap((key) => s.mapped?.[svc]?.[key] ?? []);
      return own.length ? [`${svc} (its /metrics: ${own.join(", ")})`] : [];
    })
    .join("; ");
}

/** What users sent in the span (the load driver's count): the denominator of every "per request". */
export function userRequests(s: Series, span: Span): number {
  return s.users.slice(span.from, span.to).reduce((a, u) => a + u.sent, 0);
}

/** Kinds that are a database: their CPU, calls and saturation are the database's. */
export const isDatabase = (kind: string | undefined) => kind === "postgres" || kind === "mariadb";

/** Calls the database served (or cancelled): its transactions, commits and rollbacks, less the one
 * each new session makes as it starts (measured: 10 sessions of one SELECT count 20 commits) and
 * the one per second the harness's own reader makes. Without a watched database, the app's count. */
export function dbCalls(s: Series, span: Span, blackBox: boolean): Figure {
  if (watched(s, "postgres")) {
    const x = paired(s, "postgres", ["xact_commit_per_s", "xact_rollback_per_s"], span);
    if (x) {
      const sessions = total(s, "postgres", "sessions_per_s", span) ?? 0;
      const own = x.seconds * Object.values(s.kinds).filter((k) => k === "postgres").length;
      return {
        value: Math.max(0, x.sum - sessions - own),
        requests: x.requests,
        source: `${names(s, "postgres")} (postgres pg_stat_database: commits + rollbacks, less one per new session and the harness's one a second)`,
      };
    }
  }
  if (watched(s, "mariadb")) {
    // the reader takes its own statements off Questions as it reads (observe/sources/mariadb.ts)
    const x = paired(s, "mariadb", ["questions_per_s"], span);
    if (x) return { value: x.sum, requests: x.requests, source: `${names(s, "mariadb")} (mariadb Questions, less the harness's reader)` };
  }
  if (!blackBox) {
    const x = paired(s, "app", ["db_queries_per_s"], span);
    if (x) return { value: x.sum, requests: x.requests, source: appSource(s, ["db_queries"]) };
  }
  return { value: null, source: "no database counters" };
}

/** A database count per user request over the baseline and a later span, and where it came from. */
export interface PerRequest {
  base: number | null;
  later: number | null;
  /** later − base */
  rise: number | null;
  source: string;
}

/** The database's calls per user request over the baseline and a later span, from the count that
 * carries its work (`picked`): its transactions (dbCalls, which also count calls cancelled) where
 * they rose by `enough`; else Postgres's statements (pg_stat_statements calls) where those rose
 * more. A real app may run many statements in a few transactions, so its commits do not move with
 * a cache miss while its statements do (MediaWiki ran 19 statements a page view with memcached
 * and 43 without, at ~14 commits either way). */
export function dbCallsPerRequest(
  s: Series,
  base: Span,
  later: Span,
  blackBox: boolean,
  enough: number,
): { calls: PerRequest; statements: PerRequest; picked: PerRequest & { count: "calls" | "statements" } } {
  const ratio = (n: number | null, d: number) => (n === null || d <= 0 ? null : n / d);
  const perRequest = (b: number | null, l: number | null, source: string): PerRequest => ({
    base: b,
    later: l,
    rise: b !== null && l !== null ? l - b : null,
    source,
  });
  const callsB = dbCalls(s, base, blackBox);
  const callsL = dbCalls(s, later, blackBox);
  const calls = perRequest(
    ratio(callsB.value, callsB.requests ?? userRequests(s, base)),
    ratio(callsL.value, callsL.requests ?? userRequests(s, later)),
    callsL.source,
  );
  const statements = perRequest(
    ratio(total(s, "postgres", "calls_per_s", base), userRequests(s, base)),
    ratio(total(s, "postgres", "calls_per_s", later), userRequests(s, later)),
    `${names(s, "postgres")} (postgres pg_stat_statements calls)`,
  );
  const byCalls = calls.rise !== null && calls.rise >= enough;
  const byStatements = !byCalls && statements.rise !== null && (calls.rise === null || statements.rise > calls.rise);
  return { calls, statements, picked: byStatements ? { ...statements, count: "statements" } : { ...calls, count: "calls" } };
}

/** Database calls that failed or were cancelled (statement timeouts roll back), and sessions that
 * ended in a fatal error (too many clients). */
export function dbFailures(s: Series, span: Span, blackBox: boolean): Figure {
  if (watched(s, "postgres")) {
    const rb = total(s, "postgres", "xact_rollback_per_s", span);
    const fatal = total(s, "postgres", "sessions_fatal_per_s", span);
    if (rb !== null || fatal !== null)
      return { value: (rb ?? 0) + (fatal ?? 0), source: `${names(s, "postgres")} (postgres rollbacks and fatal sessions)` };
  }
  if (watched(s, "mariadb")) {
    const stopped = total(s, "mariadb", "max_statement_time_exceeded_per_s", span);
    const refused = mariadbRefused(s, span);
    if (stopped !== null || refused !== null)
      return {
        value: (stopped ?? 0) + (refused ?? 0),
        source: `${names(s, "mariadb")} (mariadb Max_statement_time_exceeded and Aborted_connects)`,
      };
  }
  if (!blackBox) {
    const app = total(s, "app", "db_errors_per_s", span);
    if (app !== null) return { value: app, source: appSource(s, ["db_errors"]) };
  }
  return { value: null, source: "no database counters" };
}

/** Each cache kind's own count of hits: [kind, per-second key, where it comes from]. */
const CACHE_HITS = [
  ["memcached", "get_hits_per_s", "memcached get_hits"],
  ["redis", "keyspace_hits_per_s", "redis INFO keyspace_hits"],
] as const;

/** Connection attempts MariaDB refused. MariaDB 10.11 counts a refusal at max_connections in
 * Aborted_connects (with bad passwords and handshake timeouts), not in Connection_errors_max_connections
 * (measured: 12 clients at max_connections 10 moved Aborted_connects by 2, the other by 0); MySQL
 * counts it in the latter. The larger of the two, so neither server is counted twice. */
function mariadbRefused(s: Series, span: Span, only?: string): number | null {
  const aborted = total(s, "mariadb", "aborted_connects_per_s", span, only);
  const capped = total(s, "mariadb", "connection_errors_max_connections_per_s", span, only);
  return aborted === null && capped === null ? null : Math.max(aborted ?? 0, capped ?? 0);
}

/** Cache hits as the cache counts them. A cache that was down counted none: its seconds without a
 * reading are seconds without hits. */
export function cacheHits(s: Series, span: Span, blackBox: boolean): Figure {
  // A cache never read in the whole run (its stats refused) says nothing; one read at other times
  // and silent now was down.
  for (const [kind, key, says] of CACHE_HITS)
    if (watched(s, kind) && total(s, kind, key, { from: 0, to: s.seconds }) !== null)
      return { value: total(s, kind, key, span) ?? 0, source: `${names(s, kind)} (${says})` };
  if (!blackBox) {
    // An app that reads no cache counts 0 hits: that is no cache, not a cold one.
    const app = total(s, "app", "cache_hits_per_s", span);
    const any = total(s, "app", "cache_hits_per_s", { from: 0, to: s.seconds });
    if (app !== null && (any ?? 0) > 0) return { value: app, source: appSource(s, ["cache_hits"]) };
  }
  return { value: null, source: "no cache" };
}

/** New connections a dependency accepted, and connections it refused: memcached's and Redis's own counters,
 * Postgres's sessions (14+) and fatal session ends. */
export interface Connections {
  dep: string;
  opened: number | null;
  /** refused (memcached past -c, Redis past maxclients), or for Postgres sessions that ended in a fatal error (too many
   * clients, or a client that went away mid-statement) */
  refused: number | null;
  refusedWord: "refused" | "ended in a fatal error";
  source: string;
}

export function connections(s: Series, span: Span): Connections[] {
  const out: Connections[] = [];
  for (const { svc } of rowsOf(s, "memcached", span)) {
    out.push({
      dep: svc,
      opened: total(s, "memcached", "total_connections_per_s", span, svc),
      refused: total(s, "memcached", "rejected_connections_per_s", span, svc),
      refusedWord: "refused",
      source: `${svc} (memcached total_connections, rejected_connections)`,
    });
  }
  for (const { svc } of rowsOf(s, "redis", span)) {
    out.push({
      dep: svc,
      opened: total(s, "redis", "total_connections_received_per_s", span, svc),
      refused: total(s, "redis", "rejected_connections_per_s", span, svc),
      refusedWord: "refused",
      source: `${svc} (redis INFO total_connections_received, rejected_connections)`,
    });
  }
  for (const { svc } of rowsOf(s, "postgres", span)) {
    // Sessions count the connections that were established (Postgres 14+). Postgres forks a backend
    // for every connection, so processes started in its container (its cgroup, sampled each second:
    // a lower bound) also count the attempts a starved server never established.
    const sessions = total(s, "postgres", "sessions_per_s", span, svc);
    const backends = total(s, "postgres", "procs_started_per_s", span, svc);
    if (sessions === null && backends === null) continue;
    out.push({
      dep: svc,
      opened: Math.max(sessions ?? 0, backends ?? 0),
      refused: total(s, "postgres", "sessions_fatal_per_s", span, svc),
      refusedWord: "ended in a fatal error",
      source: `${svc} (postgres pg_stat_database sessions and sessions_fatal; backends started, from its cgroup)`,
    });
  }
  for (const { svc } of rowsOf(s, "mariadb", span)) {
    const opened = total(s, "mariadb", "connections_per_s", span, svc);
    if (opened === null) continue;
    out.push({
      dep: svc,
      opened,
      refused: mariadbRefused(s, span, svc),
      refusedWord: "refused",
      source: `${svc} (mariadb Connections; Aborted_connects or Connection_errors_max_connections)`,
    });
  }
  return out;
}

/** The load balancer's own layer: requests it received, attempts it sent to servers (retries and
 * redispatches included), its retries and redispatches. null without a watched HAProxy. */
export function lbLayer(
  s: Series,
  span: Span,
): { requests: number; attempts: number; retries: number; redispatches: number; source: string } | null {
  const requests = total(s, "haproxy", "requests_per_s", span);
  const attempts = total(s, "haproxy", "server_sessions_per_s", span);
  if (requests === null || attempts === null) return null;
  return {
    requests,
    attempts,
    retries: total(s, "haproxy", "retries_per_s", span) ?? 0,
    redispatches: total(s, "haproxy", "redispatches_per_s", span) ?? 0,
    source: `${names(s, "haproxy")} (haproxy stats: frontend req_tot, servers' stot, backend wretr and wredis)`,
  };
}

/** Mean execution time of the database's statements (pg_stat_statements), ms: its service time. */
export function dbServiceMs(s: Series, span: Span): Figure & { counted: number | null } {
  const calls = total(s, "postgres", "calls_per_s", span);
  const ms = total(s, "postgres", "exec_ms_per_s", span);
  return {
    counted: calls,
    value: calls && ms !== null && calls > 0 ? ms / calls : null,
    source: `${names(s, "postgres") || "no database"} (postgres pg_stat_statements total_exec_time / calls)`,
  };
}
