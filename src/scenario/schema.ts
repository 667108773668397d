// The scenario format, defined once: zod validates it, the TypeScript types are inferred from it,
// and `cascade schema` turns it into JSON Schema for editor completion.
import { z } from "zod";
import { cut } from "./issues.js";
import { parseSelector, type Selector } from "./selector.js";
import { parseBytes, parseDuration, parsePercent, parseShareRange } from "./units.js";

/** The longest any duration may be: a run is bounded, and every timer stays exact (Node's timers
 * overflow past 2^31 ms, about 24.8 days). */
export const MAX_DURATION_MS = 24 * 3_600_000;
/** The highest rate the load generator is asked for (one process; wrk-class rates are ~10^4-10^5). */
export const MAX_RATE = 100_000;
/** Load generator processes at most (each is a Node process of its own, ~50 MB). */
export const MAX_GENERATORS = 16;
/** Sizes above this are typos (a 400-digit memory would otherwise overflow to no limit at all). */
export const MAX_BYTES = 2 ** 40;
/** Docker refuses a container memory limit below 6 MiB. */
export const MIN_MEMORY = 6 * 2 ** 20;

/** "30s", "500ms", "2m", "1h", or a number of seconds → milliseconds; never negative, at most 24 h. */
export const Duration = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || !Number.isFinite(ms)) {
      ctx.addIssue({ code: "custom", message: `not a duration: ${cut(JSON.stringify(v) ?? "")} (use e.g. 500ms, 10s, 2m)` });
      return z.NEVER;
    }
    if (ms < 0) {
      ctx.addIssue({ code: "custom", message: `must not be negative, got ${cut(JSON.stringify(v) ?? "")}` });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({ code: "custom", message: `at most 24h, got ${cut(JSON.stringify(v) ?? "")}` });
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
    if (b === undefined || b <= 0 || !Number.isFinite(b)) {
      ctx.addIssue({ code: "custom", message: `not a size: ${cut(JSON.stringify(v) ?? "")} (use e.g. 64m, 1g)` });
      return z.NEVER;
    }
    if (b > MAX_BYTES) {
      ctx.addIssue({ code: "custom", message: `at most 1 TiB, got ${cut(JSON.stringify(v) ?? "")}` });
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
      ctx.addIssue({ code: "custom", message: `not a percentage: ${cut(JSON.stringify(v) ?? "")} (use e.g. 99.5% or 0.995)` });
      return z.NEVER;
    }
    return p;
  })
  .meta({ description: 'A share: "99.5%" or 0.995' });

/** Names the harness uses itself: its Toxiproxy container, and the causal path's "users" and "load". */
export const RESERVED_NAMES = ["toxiproxy", "users", "load"] as const;

const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, "service names are lower-case letters, digits and '-', starting with a letter");

/** A name a scenario may declare a service under. */
const DeclaredName = ServiceName.refine(
  (n) => !(RESERVED_NAMES as readonly string[]).includes(n),
  `reserved by the harness (reserved: ${RESERVED_NAMES.join(", ")})`,
);

export const Readiness = z
  .strictObject({
    tcp: z.number().int().min(1).max(65535).optional().meta({ description: "a port that accepts and holds a TCP connection" }),
    http: z.string().startsWith("/").optional().meta({ description: "an HTTP path that answers 2xx on the service port" }),
    log: z
      .string()
      .refine((r) => {
        try {
          new RegExp(r);
          return true;
        } catch {
          return false;
        }
      }, "not a valid regular expression")
      .optional()
      .meta({ description: "a regular expression a log line must match" }),
    command: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .meta({
        description:
          "a command run inside the container (as a compose healthcheck's test): ready when it exits 0; a string runs under /bin/sh -c, a list as given",
      }),
    timeout: PositiveDuration.default(60_000),
  })
  .refine((r) => r.tcp !== undefined || r.http !== undefined || r.log !== undefined || r.command !== undefined, {
    message: "give at least one of tcp, http, log or command",
  });

export const ServiceKind = z.enum(["memcached", "redis", "postgres", "mariadb", "haproxy", "app", "image"]);

/** The failures HAProxy 2.8 can retry a request on (its configuration manual, "retry-on"; 421 and
 * 429 came later). Status codes are strings here, as HAProxy reads them; YAML may give numbers. */
export const RETRY_ON = [
  "none",
  "conn-failure",
  "empty-response",
  "junk-response",
  "response-timeout",
  "0rtt-rejected",
  "401",
  "403",
  "404",
  "408",
  "425",
  "500",
  "501",
  "502",
  "503",
  "504",
  "all-retryable-errors",
] as const;
export type RetryOn = (typeof RETRY_ON)[number];

const RetryOnKeyword = z
  .union([z.string(), z.number()])
  .transform((v, ctx): RetryOn => {
    const k = String(v);
    if (!(RETRY_ON as readonly string[]).includes(k)) {
      ctx.addIssue({
        code: "custom",
        message: `unknown retry-on keyword ${cut(JSON.stringify(v) ?? "")}; valid: ${RETRY_ON.join(", ")}`,
      });
      return z.NEVER;
    }
    return k as RetryOn;
  })
  // The input is a string or a number; list the keywords too, for editor completion.
  .meta({
    description: "a retry-on keyword or HTTP status code",
    enum: [...RETRY_ON, ...RETRY_ON.filter((k) => /^\d+$/.test(k)).map(Number)],
  });

/** haproxy: how it balances, retries and queues; each field maps to one HAProxy directive. */
export const Balancer = z
  .strictObject({
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .optional()
      .meta({ description: "retries N: attempts after a failed connection (or a retry-on failure); HAProxy's default is 3" }),
    redispatch: z.boolean().optional().meta({ description: "option redispatch: a retry may go to another server" }),
    retryOn: z
      .array(RetryOnKeyword)
      .min(1)
      .optional()
      .meta({ description: "retry-on: the failures a request is retried on (HAProxy's default is conn-failure)" }),
    maxconn: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: "maxconn N on every server: requests beyond it wait in HAProxy's queue" }),
    queueTimeout: PositiveDuration.optional().meta({
      description: "timeout queue: how long a request may wait for a server (503 past it); the server timeout by default",
    }),
    check: z
      .strictObject({
        interval: PositiveDuration.default(1000).meta({ description: "time between health checks (inter)" }),
        rise: z.number().int().min(1).default(2).meta({ description: "passed checks that bring a server back" }),
        fall: z.number().int().min(1).default(2).meta({ description: "failed checks that take a server out" }),
        timeout: PositiveDuration.optional().meta({
          description: "timeout check: how long one check may take (the interval by default): a slow page is not a dead server",
        }),
      })
      .optional()
      .meta({ description: "health checks of every server; needs a backend with a health path (kind: app or ready.http)" }),
  })
  .superRefine((b, ctx) => {
    // HAProxy refuses a retry-on line with "none" next to any other keyword.
    if (b.retryOn && b.retryOn.length > 1 && b.retryOn.includes("none"))
      ctx.addIssue({ code: "custom", path: ["retryOn"], message: "none means no retries: it cannot be listed with other keywords" });
  });

/** A Dockerfile folder the harness builds the service's image from (`docker build --network host`). */
export const Build = z.union([
  z.string().min(1).meta({ description: "the build context: a folder with a Dockerfile, relative to the scenario file" }),
  z.strictObject({
    context: z.string().min(1).meta({ description: "the build context, relative to the scenario file" }),
    dockerfile: z.string().min(1).optional().meta({ description: "the Dockerfile's path inside the context (default Dockerfile)" }),
    args: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
      .optional()
      .meta({ description: "build arguments (--build-arg)" }),
  }),
]);
/** What a user's metric feeds: the field in a scenario's `metrics:` → the reading the charts and
 * mechanisms know (the reference app's names, src/observe/samplers.ts). Counters become rates. */
export const MAPPED_METRICS = {
  requests: { reading: "requests", what: "counter: requests the service answered" },
  errors: { reading: "requests_5xx", what: "counter: requests it answered with an error (5xx)" },
  in_flight: { reading: "in_flight", what: "gauge: requests being served now" },
  queue: { reading: "queue_depth", what: "gauge: requests waiting for a worker or slot" },
  retries: { reading: "retries", what: "counter: calls to its dependencies that were retries" },
  dependency_calls: { reading: "db_queries", what: "counter: calls to its dependencies (the database), retries included" },
} as const;
export type MappedMetric = keyof typeof MAPPED_METRICS;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A metric name, a PromQL selector or { name, labels } (equality; YAML numbers as their text).
 * Checked by hand, not as a zod union: a union's error names only the shapes it expected. */
const MetricSelector = z
  .unknown()
  .transform((v, ctx): Selector => {
    const fail = (message: string, path: PropertyKey[] = []) => {
      ctx.addIssue({ code: "custom", message, path });
      return z.NEVER;
    };
    if (typeof v === "string") {
      const sel = parseSelector(v);
      return typeof sel === "string" ? fail(`not a metric selector, ${sel} (e.g. http_requests_total{code=~"5.."})`) : sel;
    }
    if (typeof v !== "object" || v === null || Array.isArray(v))
      return fail(
        `expected a metric selector (e.g. 'http_requests_total{code="503"}') or { name, labels }, got ${cut(JSON.stringify(v) ?? "")}`,
      );
    const o = v as Record<string, unknown>;
    const unknown = Object.keys(o).find((k) => k !== "name" && k !== "labels");
    if (unknown) return fail(`unknown field "${unknown}" (known: name, labels)`, [unknown]);
    if (typeof o.name !== "string" || !METRIC_NAME.test(o.name))
      return fail(`expected a metric name, got ${cut(JSON.stringify(o.name) ?? "nothing")}`, ["name"]);
    const labels = o.labels ?? {};
    if (typeof labels !== "object" || labels === null || Array.isArray(labels))
      return fail("expected a mapping of label names to values", ["labels"]);
    const matchers: Selector["matchers"] = [];
    for (const [label, value] of Object.entries(labels)) {
      if (!LABEL_NAME.test(label)) return fail(`not a label name: ${cut(JSON.stringify(label))}`, ["labels", label]);
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
        return fail(`expected a label value, got ${cut(JSON.stringify(value) ?? "")}`, ["labels", label]);
      matchers.push({ label, op: "=", value: String(value) });
    }
    return { name: o.name, matchers };
  })
  .meta({
    anyOf: [
      { type: "string" },
      {
        type: "object",
        properties: {
          name: { type: "string" },
          labels: { type: "object", additionalProperties: { type: ["string", "number", "boolean"] } },
        },
        required: ["name"],
        additionalProperties: false,
      },
    ],
  });

/** A user's own Prometheus endpoint, and which of its metrics mean what (kind: image only). */
export const Metrics = z
  .strictObject({
    path: z.string().startsWith("/").default("/metrics").meta({ description: "the path of its Prometheus text page" }),
    port: z.number().int().min(1).max(65535).optional().meta({ description: "the port serving it; the service's port by default" }),
    ...(Object.fromEntries(
      Object.entries(MAPPED_METRICS).map(([k, m]) => [
        k,
        MetricSelector.optional().meta({
          description: `${m.what}: a metric name, a PromQL selector (name{label="v",code=~"5.."}) or { name, labels }; summed over the series it matches`,
        }),
      ]),
    ) as Record<MappedMetric, z.ZodOptional<typeof MetricSelector>>),
  })
  .refine((m) => Object.keys(MAPPED_METRICS).some((k) => m[k as MappedMetric] !== undefined), {
    message: `map at least one of ${Object.keys(MAPPED_METRICS).join(", ")}`,
  });

/** A Swarm node, by its name in the cluster file or its hostname. */
const NodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a node name: letters, digits, '.', '_' and '-'");

export const Service = z
  .strictObject({
    kind: ServiceKind,
    image: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "image reference; kind: image needs it or build (with build, the tag the build gets)" }),
    build: Build.optional().meta({ description: "kind: image: build the image from a Dockerfile folder before the run" }),
    command: z.array(z.string()).optional(),
    port: z.number().int().min(1).max(65535).optional().meta({ description: "the port the service listens on" }),
    replicas: z.number().int().min(1).max(50).default(1),
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    memory: Bytes.refine((b) => b >= MIN_MEMORY, "at least 6m: Docker refuses a smaller memory limit")
      .optional()
      .meta({ description: "container memory limit" }),
    cpus: z.number().positive().max(64).optional().meta({ description: "CPU limit in cores, e.g. 0.5" }),
    ulimits: z.record(z.string(), z.number().int().min(0)).default({}).meta({ description: "e.g. { nofile: 1024 }" }),
    restart: z.enum(["no", "on-failure", "always", "unless-stopped"]).default("no"),
    placement: z
      .union([NodeName, z.array(NodeName).min(1)])
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .optional()
      .meta({
        description:
          "--runtime swarm: the node (or nodes, taken in turn by replica) its replicas run on; spread over every node when absent. One engine ignores it",
      }),
    ready: Readiness.optional(),
    /** memcached: -c max connections; redis: maxclients; mariadb: max_connections. */
    connections: z.number().int().min(1).optional().meta({
      description:
        "memcached: maximum simultaneous connections (-c); redis: maxclients; mariadb: max_connections (at least 10; default 300)",
    }),
    /** haproxy: the service it balances across (every replica is a server). */
    backend: ServiceName.optional().meta({ description: "haproxy: the service whose replicas it balances" }),
    timeout: Duration.optional().meta({ description: "haproxy: server timeout (gateway timeout → 504)" }),
    lb: Balancer.optional().meta({ description: "haproxy: retries, queueing and health checks of its backend" }),
    /** app: settings of the reference app, passed as CASCADE_APP_CONFIG. */
    config: z.record(z.string(), z.unknown()).default({}).meta({ description: "reference app settings" }),
    metrics: Metrics.optional().meta({
      description:
        "image: its own Prometheus endpoint, and the metrics that mean requests, errors, in flight, queue, retries, dependency calls",
    }),
  })
  .superRefine((s, ctx) => {
    if (s.kind === "image" && !s.image && !s.build)
      ctx.addIssue({ code: "custom", path: ["image"], message: "kind: image needs an image or a build" });
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
  rate: z.number().min(0).max(MAX_RATE).meta({ description: "requests per second offered (0 = a pause), at most 100,000" }),
  to: z
    .number()
    .min(0)
    .max(MAX_RATE)
    .optional()
    .meta({ description: "a ramp: the rate rises (or falls) linearly from `rate` to this over the phase" }),
});

export const Load = z.strictObject({
  target: ServiceName.meta({
    description:
      "the service that receives the load (replica 1, reached at its address on the run network or its port published on 127.0.0.1)",
  }),
  path: z.string().startsWith("/").default("/"),
  method: z.enum(["GET", "POST", "PUT", "DELETE"]).default("GET"),
  timeout: PositiveDuration.default(5_000).meta({ description: "client deadline per request" }),
  connections: z.number().int().min(1).max(10_000).default(100).meta({ description: "connection cap of the load generator" }),
  generators: z.number().int().min(1).max(MAX_GENERATORS).default(1).meta({
    description:
      "generator processes sharing the arrivals (arrival k goes to generator k mod N; each gets its part of the connection cap); 1 = the in-process driver",
  }),
  phases: z.array(RatePhase).min(1),
});

const FaultBase = {
  at: Duration.refine((ms) => ms >= 0, "must not be negative").meta({ description: "when the fault starts, from load start" }),
  name: z.string().optional(),
};

const Window = {
  duration: PositiveDuration.optional().meta({ description: "reverted after this long; stays to the end of the run when absent" }),
};

/** Which replicas of a service a fault acts on: all by default, named ones, or N picked at random. */
const Targets = {
  service: ServiceName,
  replica: z
    .union([z.number().int().min(1), z.array(z.number().int().min(1)).min(1)])
    .optional()
    .meta({ description: "which replica(s), 1-based; all when absent" }),
  count: z.number().int().min(1).optional().meta({ description: "act on this many replicas, picked at random" }),
};

const Signal = z.enum(["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT", "SIGSEGV"]);

export const KillFault = z.strictObject({ ...FaultBase, ...Targets, kind: z.literal("kill"), signal: Signal.default("SIGKILL") });
/** stop goes through the API: Docker counts it as a manual stop, so no restart policy brings it back. */
export const StopFault = z.strictObject({ ...FaultBase, ...Targets, kind: z.literal("stop") });
export const StartFault = z.strictObject({ ...FaultBase, ...Targets, kind: z.literal("start") });
export const RestartFault = z.strictObject({ ...FaultBase, ...Targets, kind: z.literal("restart") });
export const PauseFault = z.strictObject({ ...FaultBase, ...Targets, ...Window, kind: z.literal("pause") });
/** The whole host is lost: name and address go with the process (a kill leaves them: peers are refused). */
export const HostDownFault = z.strictObject({
  ...FaultBase,
  ...Targets,
  kind: z.literal("host-down"),
  duration: PositiveDuration.optional().meta({
    description: "the host and then the service come back after this long (waited ready); down until a start when absent",
  }),
});
export const CrashLoopFault = z.strictObject({
  ...FaultBase,
  ...Targets,
  kind: z.literal("crashloop"),
  every: Duration.refine((ms) => ms >= 100, "at least 100ms: a container cannot restart faster").meta({
    description: "kill the target again this often (a restart policy or a start brings it back)",
  }),
  signal: Signal.default("SIGKILL"),
  duration: PositiveDuration.meta({ description: "how long the loop lasts" }),
});

/** A whole node of a swarm is lost (down: cut off from the cluster, as a dead machine is) or drained
 * by the manager (drain: its tasks are moved to nodes their placement allows). */
export const NodeFault = z.strictObject({
  ...FaultBase,
  kind: z.literal("node"),
  node: NodeName,
  action: z.enum(["down", "drain"]).default("down"),
  duration: PositiveDuration.optional().meta({
    description: "the node comes back (up, or active again) after this long; stays lost when absent",
  }),
});

const LinkRef = z.string().regex(/^[a-z][a-z0-9-]*->[a-z][a-z0-9-]*$/, 'a link is written "from->to"');
const Toxic = {
  ...FaultBase,
  ...Window,
  link: LinkRef,
  direction: z
    .enum(["downstream", "upstream"])
    .default("downstream")
    .meta({ description: "downstream: data from the dependency back to the caller; upstream: caller to dependency" }),
  toxicity: z.number().min(0).max(1).default(1).meta({ description: "share of connections the toxic acts on" }),
};

export const LatencyFault = z.strictObject({ ...Toxic, kind: z.literal("latency"), latency: Duration, jitter: Duration.default(0) });
export const BandwidthFault = z.strictObject({
  ...Toxic,
  kind: z.literal("bandwidth"),
  rate: z.number().int().min(0).meta({ description: "KB/s" }),
});
/** Toxiproxy's timeout toxic: data is dropped; the connection closes after `timeout` (0 = held open: a blackhole). */
export const BlackholeFault = z.strictObject({ ...Toxic, kind: z.literal("timeout"), timeout: Duration.default(0) });
export const ResetPeerFault = z.strictObject({ ...Toxic, kind: z.literal("reset_peer"), timeout: Duration.default(0) });
export const SlowCloseFault = z.strictObject({ ...Toxic, kind: z.literal("slow_close"), delay: Duration });
export const SlicerFault = z.strictObject({
  ...Toxic,
  kind: z.literal("slicer"),
  average_size: z.number().int().min(1).meta({ description: "bytes per slice" }),
  size_variation: z.number().int().min(0).default(0),
  delay: Duration.default(0).meta({ description: "between slices" }),
});
export const LimitDataFault = z.strictObject({
  ...Toxic,
  kind: z.literal("limit_data"),
  bytes: z.number().int().min(1).meta({ description: "the connection is closed after this many bytes" }),
});
/** The link is down: Toxiproxy disables the proxy, which closes its connections and refuses new ones. */
export const PartitionFault = z.strictObject({ ...FaultBase, ...Window, kind: z.literal("partition"), link: LinkRef });

export const UlimitFault = z.strictObject({
  ...FaultBase,
  ...Targets,
  ...Window,
  kind: z.literal("ulimit"),
  nofile: z.number().int().min(8).meta({ description: "open-files limit set on the running processes (prlimit)" }),
});
export const ResourcesFault = z
  .strictObject({
    ...FaultBase,
    ...Targets,
    ...Window,
    kind: z.literal("resources"),
    memory: Bytes.optional().meta({ description: "new container memory limit (docker update)" }),
    cpus: z.number().positive().max(64).optional().meta({ description: "new CPU limit in cores" }),
  })
  .refine((f) => f.memory !== undefined || f.cpus !== undefined, { message: "give memory or cpus", path: ["kind"] });
export const MemoryHogFault = z.strictObject({
  ...FaultBase,
  ...Targets,
  ...Window,
  kind: z.literal("memory-hog"),
  size: Bytes.meta({ description: "memory a process inside the container holds (counted against its cgroup)" }),
});
export const CpuStressFault = z.strictObject({
  ...FaultBase,
  ...Targets,
  ...Window,
  kind: z.literal("cpu-stress"),
  workers: z.number().int().min(1).max(64).default(1).meta({ description: "busy loops inside the container" }),
});

export const AppFault = z.strictObject({
  ...FaultBase,
  ...Targets,
  ...Window,
  kind: z.literal("app"),
  set: z
    .record(z.string(), z.unknown())
    .refine((o) => Object.keys(o).length > 0, "give at least one setting")
    .meta({ description: "reference app settings to switch at runtime (POST /admin/config), e.g. { leakMbPerMin: 50 }" }),
});

export const Fault = z.discriminatedUnion("kind", [
  KillFault,
  StopFault,
  StartFault,
  RestartFault,
  PauseFault,
  HostDownFault,
  CrashLoopFault,
  NodeFault,
  LatencyFault,
  BandwidthFault,
  BlackholeFault,
  ResetPeerFault,
  SlowCloseFault,
  SlicerFault,
  LimitDataFault,
  PartitionFault,
  UlimitFault,
  ResourcesFault,
  MemoryHogFault,
  CpuStressFault,
  AppFault,
]);

/** Fault kinds that act through Toxiproxy on a link. */
export const TOXIC_KINDS = ["latency", "bandwidth", "timeout", "reset_peer", "slow_close", "slicer", "limit_data"] as const;
export type ToxicFault = Extract<Fault, { kind: (typeof TOXIC_KINDS)[number] }>;
export type LinkFault = ToxicFault | PartitionFault;
export type ServiceFault = Exclude<Fault, LinkFault | NodeFault>;
export const isLinkFault = (f: Fault): f is LinkFault => "link" in f;

export const Slo = z.strictObject({
  availability: Percent.optional().meta({ description: "share of offered requests that must succeed (2xx/3xx within the deadline)" }),
  p50: Duration.optional(),
  p95: Duration.optional(),
  p99: Duration.optional(),
  recovery: PositiveDuration.optional().meta({
    description: "how soon users must be served within the SLO again once the last fault ended; past it the run is metastable",
  }),
});

export const MECHANISMS = ["retries", "queuing", "load-shift", "connection-churn", "restarts"] as const;

export const Expect = z.strictObject({
  cascade: z.boolean().optional().meta({ description: "whether the fault must (true) or must not (false) cascade to users" }),
  mechanisms: z.array(z.enum(MECHANISMS)).optional().meta({ description: "mechanisms the analysis must find (primary or contributing)" }),
  metastable: z.boolean().optional(),
  backpressure: z.enum(["held", "failed"]).optional().meta({ description: "shedding must hold (or fail) for admitted requests" }),
});

/** "40%..80%", "..50%", "150%.." or "60%" (at least) → a range of shares of a limit. */
export const ShareRangeField = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const r = parseShareRange(v);
    if (r === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `not a range of shares: ${cut(JSON.stringify(v) ?? "")} (use e.g. 40%..80%, ..50%, 150%..)`,
      });
      return z.NEVER;
    }
    return r;
  })
  .meta({ description: 'A range of shares of a limit: "40%..80%", "..50%" (at most), "150%.." (at least)' });

/** What each baseline metric measures; the analysis says where each number came from. */
export const BASELINE_METRICS = {
  cpu: "CPU used, as a share of the service's CPU limit in force (cgroup CPU time, mean over the window and replicas)",
  memory: "working-set memory as a share of the memory limit (cgroup; the fullest replica)",
  busy: "reference app: requests in flight as a share of its prefork slots (app_in_flight / app_workers)",
  "cpu-uncached":
    "postgres: the CPU the baseline request rate would need if every request read the database, as a share of its CPU limit (the per-read CPU measured at calibration × requests per second)",
} as const;
export type BaselineMetric = keyof typeof BASELINE_METRICS;

const BaselineRequirement = z.strictObject(
  Object.fromEntries(Object.entries(BASELINE_METRICS).map(([k, d]) => [k, ShareRangeField.optional().meta({ description: d })])) as Record<
    BaselineMetric,
    z.ZodOptional<typeof ShareRangeField>
  >,
);

export const Baseline = z.strictObject({
  window: PositiveDuration.default(5000).meta({
    description: "length of the baseline window checked, ending at the first fault (the whole run when there is none)",
  }),
  require: z
    .record(ServiceName, BaselineRequirement)
    .default({})
    .meta({ description: "service → metric → range: the pressure the scenario's story needs before the first fault" }),
});

/** A stop condition, like k6's abortOnFail: a run that has clearly broken need not go on. */
export const Abort = z
  .strictObject({
    availability: Percent.meta({ description: "users served (2xx/3xx within the deadline) below this share…" }),
    for: Duration.refine((ms) => ms >= 1000, "at least 1s").meta({ description: "…for this many seconds in a row stops the run" }),
  })
  .meta({
    description:
      "stop the load early when availability stays below a share for a while: faults are reverted, the run is torn down and judged on the seconds it ran",
  });

export const Scenario = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' and '-'"),
  description: z.string().default(""),
  services: z.record(DeclaredName, Service).refine((s) => Object.keys(s).length > 0, "declare at least one service"),
  links: z.array(Link).default([]),
  load: Load,
  faults: z.array(Fault).default([]),
  baseline: Baseline.optional().meta({
    description:
      "the pressure the story needs at baseline; when the measured baseline is outside it the run ends 'setup did not hold' (exit 6), with no verdict about the system",
  }),
  slo: Slo.default({}),
  expect: Expect.optional().meta({ description: "what a CI gate checks: the run fails (exit 5) when the analysis disagrees" }),
  abort: Abort.optional(),
});

export type Scenario = z.output<typeof Scenario>;
export type ScenarioInput = z.input<typeof Scenario>;
export type Service = z.output<typeof Service>;
export type Balancer = z.output<typeof Balancer>;
export type ServiceKind = z.output<typeof ServiceKind>;
export type Link = z.output<typeof Link>;
export type Load = z.output<typeof Load>;
export type Fault = z.output<typeof Fault>;
export type KillFault = z.output<typeof KillFault>;
export type StopFault = z.output<typeof StopFault>;
export type StartFault = z.output<typeof StartFault>;
export type RestartFault = z.output<typeof RestartFault>;
export type PauseFault = z.output<typeof PauseFault>;
export type HostDownFault = z.output<typeof HostDownFault>;
export type NodeFault = z.output<typeof NodeFault>;
export type CrashLoopFault = z.output<typeof CrashLoopFault>;
export type LatencyFault = z.output<typeof LatencyFault>;
export type PartitionFault = z.output<typeof PartitionFault>;
export type UlimitFault = z.output<typeof UlimitFault>;
export type ResourcesFault = z.output<typeof ResourcesFault>;
export type MemoryHogFault = z.output<typeof MemoryHogFault>;
export type CpuStressFault = z.output<typeof CpuStressFault>;
export type AppFault = z.output<typeof AppFault>;
export type Readiness = z.output<typeof Readiness>;
export type Build = z.output<typeof Build>;
export type Slo = z.output<typeof Slo>;
export type Baseline = z.output<typeof Baseline>;
export type Expect = z.output<typeof Expect>;

/** The link's name as used in faults and as the Toxiproxy proxy name. */
export const linkName = (l: { from: string; to: string }): string => `${l.from}->${l.to}`;

/** The HTTP path HAProxy health-checks on a backend: the reference app's, or a declared ready.http. */
export const healthPath = (svc: Service): string | undefined => (svc.kind === "app" ? "/health" : svc.ready?.http);

/** Total planned load duration in ms. */
export const loadDuration = (s: Scenario): number => s.load.phases.reduce((t, p) => t + p.duration, 0);
