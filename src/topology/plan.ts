// Turns a validated Scenario into a TopologyPlan: the containers to start (in dependency order),
// their wiring, and one Toxiproxy proxy per proxied link. Pure data, no Docker — unit-testable.
import type { Link, MappedMetric, Readiness, Scenario, Service, ServiceKind } from "../scenario/schema.js";
import { healthPath, linkName, MAPPED_METRICS } from "../scenario/schema.js";
import type { Selector } from "../scenario/selector.js";
import type { Role } from "../images/catalog.js";
import { redactValue } from "../scenario/secrets.js";

export const TOXIPROXY_SERVICE = "toxiproxy";
export const TOXIPROXY_API_PORT = 8474;
/** HAProxy's stats page (CSV at /stats;csv), published so the observer can read queues and 5xx. */
export const HAPROXY_STATS_PORT = 8404;
const PROXY_PORT_BASE = 20000;

export const DEFAULT_PORT: Record<Exclude<ServiceKind, "image">, number> = {
  memcached: 11211,
  redis: 6379,
  postgres: 5432,
  mariadb: 3306,
  haproxy: 8000,
  app: 8080,
};

export interface ReadyCheck {
  /** tcp: connect + protocol greeting by kind (memcached "version", redis PING, postgres SSLRequest,
   * mariadb handshake, else hold). */
  tcp?: { port: number; protocol: "memcached" | "redis" | "postgres" | "mariadb" | "hold" };
  http?: { port: number; path: string };
  log?: string;
  /** run inside the container; ready when it exits 0 */
  command?: string[];
  timeout: number;
}

export interface ContainerPlan {
  service: string;
  replica: number;
  /** DNS name inside the run network, e.g. "app-2"; the service name is an alias for all replicas. */
  host: string;
  kind: ServiceKind | "toxiproxy";
  /** Role whose image to use, a user image reference, or a Dockerfile folder to build (what it
   * was built as is the run's, in the runtime's ImageRefs, not the plan's). */
  image: { role: Role } | { ref: string } | { build: BuildPlan; tag?: string };
  /** Names on the run network: its host name, and the service name unless a proxy answers on it. */
  aliases: string[];
  /** Env variables the runtime fills with this run's database password (never planned or recorded). */
  secretEnv?: string[];
  cmd?: string[];
  env: Record<string, string>;
  port: number;
  /** More ports published on 127.0.0.1 (Toxiproxy's proxy ports: a link can be probed from the host). */
  publish?: number[];
  memory?: number;
  cpus?: number;
  ulimits: Record<string, number>;
  restart: Service["restart"];
  /** Swarm nodes its replicas go to, in turn (the scenario's placement); every node when absent. */
  placement?: string[];
  ready: ReadyCheck;
  /** a user image's own Prometheus endpoint (its scenario's `metrics:`) */
  metrics?: MetricsPlan;
}

export interface MetricsPlan {
  path: string;
  port: number;
  /** reading the charts and mechanisms know ("requests_5xx") → the user's metric it is read from */
  map: Record<string, Selector>;
}

export interface BuildPlan {
  /** absolute path of the build context */
  context: string;
  dockerfile: string;
  args: Record<string, string>;
}

export interface ProxyPlan {
  /** Toxiproxy proxy name (no '>' so it is safe in the API path). */
  name: string;
  link: string;
  listen: string;
  upstream: string;
}

export interface TopologyPlan {
  scenario: string;
  containers: ContainerPlan[];
  proxies: ProxyPlan[];
  /** Service that receives the load, and its internal port (published on 127.0.0.1). */
  target: { service: string; port: number };
}

export const proxyName = (l: { from: string; to: string }) => `${l.from}__${l.to}`;

/** The plan as recorded (plan.json, `run --dry-run --json`): secret-looking env values redacted. */
export function redactedPlan(plan: TopologyPlan): TopologyPlan {
  return {
    ...plan,
    containers: plan.containers.map((c) => ({
      ...c,
      env: Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, redactValue(k, v)])),
    })),
  };
}
export const portOf = (s: Service): number => s.port ?? (s.kind === "image" ? 0 : DEFAULT_PORT[s.kind]);

/** The name a dependency's own containers keep when Toxiproxy answers on its service name. */
export const originName = (service: string) => `${service}-origin`;

/**
 * Dependencies whose service name Toxiproxy can take, so an app that dials `db:5432` from its own
 * config goes through the link's proxy without rewiring: the dependency's only inbound link is
 * proxied (every client of that name is that link), and no other such dependency, nor Toxiproxy's
 * API or the numbered proxy ports, uses the same port. The rest are reached through <DEP>_ADDR only.
 */
export function byNameLinks(s: Scenario): Map<string, Link> {
  const out = new Map<string, Link>();
  const ports = new Set<number>([TOXIPROXY_API_PORT]);
  for (const to of Object.keys(s.services)) {
    const inbound = s.links.filter((l) => l.to === to);
    const port = portOf(s.services[to] as Service);
    const only = inbound.length === 1 ? inbound[0] : undefined;
    if (!only?.proxy || ports.has(port) || (port >= PROXY_PORT_BASE && port < PROXY_PORT_BASE + s.links.length)) continue;
    ports.add(port);
    out.set(to, only);
  }
  return out;
}

/** Why a proxied link is reached through <DEP>_ADDR only (for the dry run), or undefined. */
export function notByName(s: Scenario, l: Link): string | undefined {
  if (!l.proxy || byNameLinks(s).get(l.to) === l) return undefined;
  const inbound = s.links.filter((x) => x.to === l.to).length;
  return inbound > 1
    ? `${inbound} links reach ${l.to}: its name stays its own, the proxy answers at ${l.to.toUpperCase().replaceAll("-", "_")}_ADDR`
    : `port ${portOf(s.services[l.to] as Service)} is taken on Toxiproxy: the proxy answers at ${l.to.toUpperCase().replaceAll("-", "_")}_ADDR`;
}

export function planTopology(s: Scenario): TopologyPlan {
  const proxies: ProxyPlan[] = [];
  const addr = new Map<string, string>(); // "from->to" → host:port the "from" side dials
  const byName = byNameLinks(s);
  s.links.forEach((l, i) => {
    const to = s.services[l.to] as Service;
    const port = portOf(to);
    if (l.proxy && byName.get(l.to) === l) {
      // Toxiproxy answers on the dependency's own name and port; the dependency keeps another name.
      proxies.push({ name: proxyName(l), link: linkName(l), listen: `0.0.0.0:${port}`, upstream: `${originName(l.to)}:${port}` });
      addr.set(linkName(l), `${l.to}:${port}`);
    } else if (l.proxy) {
      const listenPort = PROXY_PORT_BASE + i;
      proxies.push({ name: proxyName(l), link: linkName(l), listen: `0.0.0.0:${listenPort}`, upstream: `${l.to}:${port}` });
      addr.set(linkName(l), `${TOXIPROXY_SERVICE}:${listenPort}`);
    } else addr.set(linkName(l), `${l.to}:${port}`);
  });

  const containers: ContainerPlan[] = [];
  if (proxies.length > 0)
    containers.push(
      toxiproxyPlan(
        proxies.map((p) => Number(p.listen.split(":")[1])),
        [...byName.keys()],
      ),
    );
  for (const name of startOrder(s)) {
    const svc = s.services[name] as Service;
    const deps = s.links.filter((l) => l.from === name);
    for (let r = 1; r <= svc.replicas; r++) containers.push(servicePlan(s, name, svc, r, deps, addr, byName.has(name)));
  }
  return { scenario: s.name, containers, proxies, target: { service: s.load.target, port: portOf(s.services[s.load.target] as Service) } };
}

function toxiproxyPlan(publish: number[], names: string[]): ContainerPlan {
  return {
    service: TOXIPROXY_SERVICE,
    replica: 1,
    host: `${TOXIPROXY_SERVICE}-1`,
    kind: "toxiproxy",
    image: { role: "toxiproxy" },
    aliases: [`${TOXIPROXY_SERVICE}-1`, TOXIPROXY_SERVICE, ...names],
    env: {},
    port: TOXIPROXY_API_PORT,
    publish,
    ulimits: {},
    restart: "no",
    ready: { http: { port: TOXIPROXY_API_PORT, path: "/version" }, timeout: 30_000 },
  };
}

function servicePlan(
  s: Scenario,
  name: string,
  svc: Service,
  replica: number,
  deps: Link[],
  addr: Map<string, string>,
  proxiedByName: boolean,
): ContainerPlan {
  const port = portOf(svc);
  const env: Record<string, string> = {};
  // Every dependency is reachable as <NAME>_ADDR=host:port (through Toxiproxy when proxied).
  for (const l of deps) env[`${l.to.toUpperCase().replaceAll("-", "_")}_ADDR`] = addr.get(linkName(l)) as string;
  const depOfKind = (k: ServiceKind) => deps.find((l) => s.services[l.to]?.kind === k);
  let cmd = svc.command;
  const ulimits = { ...svc.ulimits };

  switch (svc.kind) {
    case "memcached": {
      const conns = svc.connections ?? 1024;
      const memMb = svc.memory ? Math.max(8, Math.floor((svc.memory * 0.8) / 2 ** 20)) : 64;
      cmd ??= ["-c", String(conns), "-m", String(memMb), "-p", String(port)];
      // memcached -c N refuses to start when nofile < N: give it room unless the scenario caps it.
      ulimits.nofile ??= conns + 64;
      break;
    }
    case "redis":
      cmd ??= redisArgs(svc, port);
      // Redis lowers maxclients to what nofile allows (less 32 for itself): give it room unless capped.
      ulimits.nofile ??= (svc.connections ?? REDIS_MAXCLIENTS) + 64;
      break;
    case "postgres":
      // POSTGRES_PASSWORD is the run's own, added by the runtime when the container is created. md5,
      // not scram: scram's PBKDF2 on each new connection costs a CPU-limited database its baseline
      // (see docker/postgres/Dockerfile); the official image's entrypoint takes the same choice here.
      Object.assign(env, {
        POSTGRES_USER: "cascade",
        POSTGRES_DB: "cascade",
        POSTGRES_HOST_AUTH_METHOD: "md5",
        POSTGRES_INITDB_ARGS: "--auth-host=md5 -c password_encryption=md5",
      });
      // pg_stat_statements: statements and their execution time, as the database counts them
      cmd ??= ["postgres", "-c", `port=${port}`, "-c", "max_connections=300", "-c", "shared_preload_libraries=pg_stat_statements"];
      break;
    case "mariadb":
      // MARIADB_PASSWORD (and the official image's MARIADB_ROOT_PASSWORD) are the run's own, added by
      // the runtime at creation; these names work for the official image and docker/mariadb alike.
      Object.assign(env, { MARIADB_USER: "cascade", MARIADB_DATABASE: "cascade" });
      // `connections` is max_connections (300 as Postgres's when not declared). skip-name-resolve:
      // no lookup of a client's address on connect (the official image sets it too).
      cmd ??= ["mariadbd", `--port=${port}`, `--max-connections=${svc.connections ?? 300}`, "--skip-name-resolve"];
      break;
    case "haproxy": {
      env.HAPROXY_CFG = haproxyConfig(s, svc, port);
      cmd ??= ["sh", "-c", 'printf "%s\\n" "$HAPROXY_CFG" > /tmp/haproxy.cfg && exec haproxy -W -db -f /tmp/haproxy.cfg'];
      break;
    }
    case "app": {
      const cache = depOfKind("memcached") ?? depOfKind("redis");
      const db = depOfKind("postgres");
      const maria = depOfKind("mariadb");
      if (cache) env.CACHE_ADDR = addr.get(linkName(cache)) as string;
      if (cache && s.services[cache.to]?.kind === "redis") env.CACHE_KIND = "redis";
      if (db) env.DATABASE_URL = `postgres://cascade@${addr.get(linkName(db))}/cascade`;
      // the password comes as MYSQL_PWD, from the runtime (as PGPASSWORD for Postgres)
      else if (maria) env.DATABASE_URL = `mysql://cascade@${addr.get(linkName(maria))}/cascade`;
      env.PORT = String(port);
      if (Object.keys(svc.config).length > 0) env.CASCADE_APP_CONFIG = JSON.stringify(svc.config);
      break;
    }
    case "image":
      break;
  }
  Object.assign(env, svc.env);
  const metrics = svc.metrics && metricsPlan(svc.metrics, port);
  const publish = [...(svc.kind === "haproxy" ? [HAPROXY_STATS_PORT] : []), ...(metrics && metrics.port !== port ? [metrics.port] : [])];
  return {
    service: name,
    replica,
    host: `${name}-${replica}`,
    kind: svc.kind,
    image: svc.build
      ? { build: buildPlan(svc.build), ...(svc.image ? { tag: svc.image } : {}) }
      : svc.image
        ? { ref: svc.image }
        : { role: svc.kind as Role },
    aliases: [`${name}-${replica}`, proxiedByName ? originName(name) : name],
    ...(svc.kind === "image" ? userSecrets(s, deps) : {}),
    ...(cmd ? { cmd } : {}),
    env,
    port,
    ...(publish.length ? { publish } : {}),
    ...(svc.memory !== undefined ? { memory: svc.memory } : {}),
    ...(svc.cpus !== undefined ? { cpus: svc.cpus } : {}),
    ulimits,
    restart: svc.restart,
    ...(svc.placement ? { placement: svc.placement } : {}),
    ready: readyCheck(svc, port),
    ...(metrics ? { metrics } : {}),
  };
}

/** A user image linked to a database is given the run's password under the name its client
 * library reads (libpq PGPASSWORD, the MySQL clients' MYSQL_PWD). */
function userSecrets(s: Scenario, deps: Link[]): { secretEnv?: string[] } {
  const kinds = new Set(deps.map((l) => s.services[l.to]?.kind));
  const names = [...(kinds.has("postgres") ? ["PGPASSWORD"] : []), ...(kinds.has("mariadb") ? ["MYSQL_PWD"] : [])];
  return names.length ? { secretEnv: names } : {};
}

function buildPlan(b: NonNullable<Service["build"]>): BuildPlan {
  const o = typeof b === "string" ? { context: b } : b;
  return { context: o.context, dockerfile: o.dockerfile ?? "Dockerfile", args: o.args ?? {} };
}

function metricsPlan(m: NonNullable<Service["metrics"]>, port: number): MetricsPlan {
  const map: Record<string, Selector> = {};
  for (const [field, { reading }] of Object.entries(MAPPED_METRICS)) {
    const sel = m[field as MappedMetric];
    if (sel) map[reading] = sel;
  }
  return { path: m.path, port: m.port ?? port, map };
}

/** Redis's own default maxclients. */
const REDIS_MAXCLIENTS = 10_000;

/** A cache, not a store: maxclients as `connections`, maxmemory at 80 % of the container's limit
 * (64 MB without one, as memcached's -m) with LRU eviction so evictions show in INFO, and no
 * persistence (no RDB snapshots, no AOF) so a kill loses the data as memcached's would. */
function redisArgs(svc: Service, port: number): string[] {
  const memMb = svc.memory ? Math.max(8, Math.floor((svc.memory * 0.8) / 2 ** 20)) : 64;
  return [
    "--port",
    String(port),
    "--maxclients",
    String(svc.connections ?? REDIS_MAXCLIENTS),
    "--maxmemory",
    `${memMb}mb`,
    "--maxmemory-policy",
    "allkeys-lru",
    "--save",
    "",
    "--appendonly",
    "no",
    "--protected-mode",
    "no",
  ];
}

function readyCheck(svc: Service, port: number): ReadyCheck {
  if (svc.ready) return fromDeclared(svc.ready, port);
  switch (svc.kind) {
    case "memcached":
      return { tcp: { port, protocol: "memcached" }, timeout: 30_000 };
    case "redis":
      return { tcp: { port, protocol: "redis" }, timeout: 30_000 };
    case "postgres":
      return { tcp: { port, protocol: "postgres" }, timeout: 90_000 };
    case "mariadb":
      return { tcp: { port, protocol: "mariadb" }, timeout: 90_000 };
    case "haproxy":
      return { http: { port, path: "/haproxy-health" }, timeout: 30_000 };
    case "app":
      return { http: { port, path: "/health" }, timeout: 60_000 };
    case "image":
      return { tcp: { port, protocol: "hold" }, timeout: 60_000 };
  }
}

function fromDeclared(r: Readiness, port: number): ReadyCheck {
  return {
    ...(r.tcp !== undefined ? { tcp: { port: r.tcp, protocol: "hold" as const } } : {}),
    ...(r.http !== undefined ? { http: { port, path: r.http } } : {}),
    ...(r.log !== undefined ? { log: r.log } : {}),
    ...(r.command !== undefined ? { command: typeof r.command === "string" ? ["/bin/sh", "-c", r.command] : r.command } : {}),
    timeout: r.timeout,
  };
}

/** HAProxy in front of every replica of its backend, health-checked so it routes around failures.
 * The service's `lb` policy adds retries, queueing and check timing; without it nothing changes. */
export function haproxyConfig(s: Scenario, lb: Service, port: number): string {
  const backendName = lb.backend as string;
  const be = s.services[backendName] as Service;
  const bePort = portOf(be);
  const timeout = lb.timeout ?? 30_000;
  const policy = lb.lb;
  const queue = policy?.queueTimeout ?? timeout;
  const health = healthPath(be);
  const c = policy?.check;
  const check = c ? ` check inter ${Math.round(c.interval)}ms fall ${c.fall} rise ${c.rise}` : " check inter 1s fall 2 rise 2";
  // Without `timeout check`, HAProxy gives a check `inter` to answer; a check of a real page that
  // slows under a fault then takes a healthy server out, and every request gets a 503.
  const checkTimeout = c?.timeout !== undefined ? [`  timeout check ${Math.round(c.timeout)}ms`] : [];
  const maxconn = policy?.maxconn !== undefined ? ` maxconn ${policy.maxconn}` : "";
  const servers = Array.from({ length: be.replicas }, (_, i) => {
    const host = `${backendName}-${i + 1}`;
    return `  server ${host} ${host}:${bePort}${health ? check : ""}${maxconn} resolvers docker init-addr last,libc,none`;
  });
  return [
    "global",
    "  maxconn 8000", // needs ~2×maxconn file descriptors; container nofile is often 20k
    "resolvers docker",
    "  nameserver dns 127.0.0.11:53",
    "  hold valid 1s",
    "defaults",
    "  mode http",
    "  option httplog",
    "  timeout connect 2s",
    "  timeout client 60s",
    `  timeout server ${Math.round(timeout)}ms`,
    `  timeout queue ${Math.round(queue)}ms`,
    "frontend fe",
    `  bind :${port}`,
    "  monitor-uri /haproxy-health",
    "  default_backend be",
    "backend be",
    "  balance roundrobin",
    ...(policy?.retries !== undefined ? [`  retries ${policy.retries}`] : []),
    ...(policy?.redispatch ? ["  option redispatch"] : []),
    // L7 retries (any keyword past none and conn-failure) need no `option http-buffer-request`:
    // HAProxy 2.8 copies the request into a buffer of its own for them, and never retries one
    // that does not fit in tune.bufsize (configuration manual, "retry-on").
    ...(policy?.retryOn ? [`  retry-on ${policy.retryOn.join(" ")}`] : []),
    ...(health ? [`  option httpchk GET ${health}`, ...checkTimeout] : []),
    ...servers,
    "listen stats",
    `  bind :${HAPROXY_STATS_PORT}`,
    "  stats enable",
    "  stats uri /stats",
    "",
  ].join("\n");
}

/** Dependencies first: a service starts after every service it links to. Cycles are broken by declaration order. */
export function startOrder(s: Scenario): string[] {
  const out: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (n: string) => {
    if (state.get(n)) return;
    state.set(n, "visiting");
    for (const l of s.links) if (l.from === n) visit(l.to);
    const backend = s.services[n]?.backend;
    if (backend && s.services[backend]) visit(backend);
    state.set(n, "done");
    out.push(n);
  };
  for (const n of Object.keys(s.services)) visit(n);
  return out;
}
