// The scenario format, defined once: zod validates it, the TypeScript types are inferred from it,
// and `cascade schema` turns it into JSON Schema for editor completion.
import { z } from "zod";
import { parseBytes, parseDuration, parsePercent } from "./units.js";

/** "30s", "500ms", "2m", "1h", or a number of seconds → milliseconds. */
export const Duration = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `not a duration: ${JSON.stringify(v)} (use e.g. 500ms, 10s, 2m)` });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: 'A duration: "500ms", "10s", "2m", "1h", or a number of seconds' });

const PositiveDuration = Duration.refine((ms) => ms > 0, "must be greater than zero");

/** "256m", "1g", "512MiB", or a number of bytes → bytes. */
export const Bytes = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const b = parseBytes(v);
    if (b === undefined || b <= 0) {
      ctx.addIssue({ code: "custom", message: `not a size: ${JSON.stringify(v)} (use e.g. 64m, 1g)` });
      return z.NEVER;
    }
    return b;
  })
  .meta({ description: 'A size: "64m", "1g", "512MiB", or a number of bytes' });

/** "99.9%" or 0.999 → fraction. */
export const Percent = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const p = parsePercent(v);
    if (p === undefined) {
      ctx.addIssue({ code: "custom", message: `not a percentage: ${JSON.stringify(v)} (use e.g. 99.5% or 0.995)` });
      return z.NEVER;
    }
    return p;
  })
  .meta({ description: 'A share: "99.5%" or 0.995' });

const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, "service names are lower-case letters, digits and '-', starting with a letter");

export const Readiness = z
  .strictObject({
    tcp: z.number().int().min(1).max(65535).optional().meta({ description: "a port that accepts and holds a TCP connection" }),
    http: z.string().startsWith("/").optional().meta({ description: "an HTTP path that answers 2xx on the service port" }),
    log: z.string().optional().meta({ description: "a regular expression a log line must match" }),
    timeout: PositiveDuration.default(60_000),
  })
  .refine((r) => r.tcp !== undefined || r.http !== undefined || r.log !== undefined, {
    message: "give at least one of tcp, http or log",
  });

export const ServiceKind = z.enum(["memcached", "postgres", "haproxy", "app", "image"]);

export const Service = z
  .strictObject({
    kind: ServiceKind,
    image: z.string().min(1).optional().meta({ description: "image reference; required for kind: image" }),
    command: z.array(z.string()).optional(),
    port: z.number().int().min(1).max(65535).optional().meta({ description: "the port the service listens on" }),
    replicas: z.number().int().min(1).max(50).default(1),
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    memory: Bytes.optional().meta({ description: "container memory limit" }),
    cpus: z.number().positive().max(64).optional().meta({ description: "CPU limit in cores, e.g. 0.5" }),
    ulimits: z.record(z.string(), z.number().int().min(0)).default({}).meta({ description: "e.g. { nofile: 1024 }" }),
    restart: z.enum(["no", "on-failure", "always", "unless-stopped"]).default("no"),
    ready: Readiness.optional(),
    /** memcached: -c max connections; -m memory MB. */
    connections: z.number().int().min(1).optional().meta({ description: "memcached: maximum simultaneous connections (-c)" }),
    /** haproxy: the service it balances across (every replica is a server). */
    backend: ServiceName.optional().meta({ description: "haproxy: the service whose replicas it balances" }),
    timeout: Duration.optional().meta({ description: "haproxy: server timeout (gateway timeout → 504)" }),
    /** app: settings of the reference app, passed as CASCADE_APP_CONFIG. */
    config: z.record(z.string(), z.unknown()).default({}).meta({ description: "reference app settings" }),
  })
  .superRefine((s, ctx) => {
    if (s.kind === "image" && !s.image) ctx.addIssue({ code: "custom", path: ["image"], message: "kind: image needs an image" });
    if (s.kind === "image" && !s.port) ctx.addIssue({ code: "custom", path: ["port"], message: "kind: image needs a port" });
    if (s.kind === "haproxy" && !s.backend)
      ctx.addIssue({ code: "custom", path: ["backend"], message: "kind: haproxy needs a backend service" });
  });

export const Link = z.strictObject({
  from: ServiceName,
  to: ServiceName,
  proxy: z.boolean().default(true).meta({ description: "route the link through Toxiproxy so faults can act on it" }),
});

export const RatePhase = z.strictObject({
  duration: PositiveDuration,
  rate: z.number().min(0).meta({ description: "requests per second offered" }),
});

export const Load = z.strictObject({
  target: ServiceName.meta({ description: "the service that receives the load (its port is published on 127.0.0.1)" }),
  path: z.string().startsWith("/").default("/"),
  method: z.enum(["GET", "POST", "PUT", "DELETE"]).default("GET"),
  timeout: PositiveDuration.default(5_000).meta({ description: "client deadline per request" }),
  connections: z.number().int().min(1).max(10_000).default(100).meta({ description: "connection cap of the load generator" }),
  phases: z.array(RatePhase).min(1),
});

const FaultBase = {
  at: Duration.refine((ms) => ms >= 0, "must not be negative").meta({ description: "when the fault starts, from load start" }),
  name: z.string().optional(),
};

export const KillFault = z.strictObject({
  ...FaultBase,
  kind: z.literal("kill"),
  service: ServiceName,
  signal: z.enum(["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT", "SIGSEGV"]).default("SIGKILL"),
  replica: z.number().int().min(1).optional().meta({ description: "which replica (1-based); all when absent" }),
});

export const StartFault = z.strictObject({
  ...FaultBase,
  kind: z.literal("start"),
  service: ServiceName,
  replica: z.number().int().min(1).optional(),
});

export const LatencyFault = z.strictObject({
  ...FaultBase,
  kind: z.literal("latency"),
  link: z.string().regex(/^[a-z][a-z0-9-]*->[a-z][a-z0-9-]*$/, 'a link is written "from->to"'),
  latency: Duration,
  jitter: Duration.default(0),
  direction: z.enum(["downstream", "upstream"]).default("downstream"),
  toxicity: z.number().min(0).max(1).default(1),
  duration: PositiveDuration.optional().meta({ description: "removed after this long; stays to the end when absent" }),
});

export const AppFault = z.strictObject({
  ...FaultBase,
  kind: z.literal("app"),
  service: ServiceName,
  replica: z.number().int().min(1).optional().meta({ description: "which replica (1-based); all when absent" }),
  set: z
    .record(z.string(), z.unknown())
    .refine((o) => Object.keys(o).length > 0, "give at least one setting")
    .meta({ description: "reference app settings to switch at runtime (POST /admin/config), e.g. { leakMbPerMin: 50 }" }),
  duration: PositiveDuration.optional().meta({ description: "switched back after this long; stays to the end when absent" }),
});

export const Fault = z.discriminatedUnion("kind", [KillFault, StartFault, LatencyFault, AppFault]);

export const Slo = z.strictObject({
  availability: Percent.optional().meta({ description: "share of requests that must succeed (2xx/3xx within the deadline)" }),
  p50: Duration.optional(),
  p95: Duration.optional(),
  p99: Duration.optional(),
});

export const Scenario = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' and '-'"),
  description: z.string().default(""),
  services: z.record(ServiceName, Service).refine((s) => Object.keys(s).length > 0, "declare at least one service"),
  links: z.array(Link).default([]),
  load: Load,
  faults: z.array(Fault).default([]),
  slo: Slo.default({}),
});

export type Scenario = z.output<typeof Scenario>;
export type ScenarioInput = z.input<typeof Scenario>;
export type Service = z.output<typeof Service>;
export type ServiceKind = z.output<typeof ServiceKind>;
export type Link = z.output<typeof Link>;
export type Load = z.output<typeof Load>;
export type Fault = z.output<typeof Fault>;
export type KillFault = z.output<typeof KillFault>;
export type StartFault = z.output<typeof StartFault>;
export type LatencyFault = z.output<typeof LatencyFault>;
export type AppFault = z.output<typeof AppFault>;
export type Readiness = z.output<typeof Readiness>;
export type Slo = z.output<typeof Slo>;

/** The link's name as used in faults and as the Toxiproxy proxy name. */
export const linkName = (l: { from: string; to: string }): string => `${l.from}->${l.to}`;

/** Total planned load duration in ms. */
export const loadDuration = (s: Scenario): number => s.load.phases.reduce((t, p) => t + p.duration, 0);
