// A Docker Compose file → a Cascade scenario (`cascade init --from`). Pure: text in, scenario text
// and notes out; the command (src/cli/init.ts) reads and writes the files.
//
// What compose says and Cascade has a field for is carried over; what it cannot carry (volumes,
// networks, secrets, …) is named, in a comment beside its service and as a note, never dropped
// in silence. Load, faults and SLO are the author's to write: they come as safe stubs and comments.
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { LineCounter, parseDocument, stringify } from "yaml";
import { cut } from "./issues.js";
import { locateKey } from "./positions.js";
import { RESERVED_NAMES } from "./schema.js";
import { parseBytes } from "./units.js";

/** Well-known images → Cascade's built-in kinds, so that their samplers read them. Matched on the
 * image's whole repository name (`docker.io/library/postgres:16-alpine` → `postgres`,
 * `bitnami/postgresql`), so `postgres-exporter` or `redis-commander` stay the user's own images. `port` is the
 * kind's own default (src/topology/plan.ts, DEFAULT_PORT): a compose port equal to it need not be
 * written. A kind added to Cascade is one row here. */
export const KNOWN_IMAGES: readonly {
  kind: string;
  image: RegExp;
  port: number;
  /** Env the kind sets itself: the role and database its samplers log in with. */
  ownEnv?: RegExp;
}[] = [
  { kind: "memcached", image: /^memcached$/, port: 11211 },
  { kind: "redis", image: /^redis(-stack-server)?$/, port: 6379 },
  { kind: "postgres", image: /^postgres(ql)?$/, port: 5432, ownEnv: /^POSTGRES_(USER|PASSWORD|DB|HOST_AUTH_METHOD|INITDB_ARGS)$/ },
  { kind: "mariadb", image: /^(mariadb|mysql|mysql-server)$/, port: 3306 },
  { kind: "haproxy", image: /^haproxy(-alpine|-debian|-ubuntu)?$/, port: 8000 },
];

/** One thing the author should know: a key not carried over, a guess, a rename. */
export interface ComposeNote {
  /** Line in the compose file. */
  line: number;
  /** The compose service it concerns; absent for top-level keys. */
  service?: string;
  text: string;
}

export interface Converted {
  /** The scenario, as YAML text with comments. */
  text: string;
  /** One line each on stderr: what was not carried over, and why. */
  notes: ComposeNote[];
  /** What the author has to fill in before a first run. */
  next: string[];
  services: string[];
  links: string[];
  /** The service the load stub targets, if any speaks HTTP. */
  target?: string;
  /** Build contexts as written in the scenario, resolved (so the command can say which are missing). */
  buildContexts: { service: string; dir: string }[];
}

/** The compose file cannot be converted: not YAML, no services, a service that is not a mapping. */
export class ComposeInvalid extends Error {
  override readonly name = "ComposeInvalid";
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    detail: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ""}: ${detail}`);
  }
}

export interface ConvertOptions {
  /** The compose file as the user named it (for messages and the description). */
  file: string;
  /** Where the scenario will be written: build contexts are rewritten relative to its folder. */
  out: string;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const oneLine = (s: string, max = 70): string => cut(s.replace(/\s+/g, " ").trim(), max);

/** A scalar as YAML text in block context: plain when YAML reads it back the same, else quoted. */
export function scalar(v: string | number | boolean): string {
  if (typeof v !== "string") return String(v);
  const s = stringify(v, { lineWidth: 0 }).trimEnd();
  return s.includes("\n") || /^[|>]/.test(s) ? JSON.stringify(v) : s;
}
/** A scalar inside `{ … }` or `[ … ]`, where `,` `[]{}` also end a plain value. */
const flowScalar = (v: string): string => (/^[A-Za-z0-9_./?=&%~+:-]+$/.test(v) && !/^[-?:]/.test(v) ? scalar(v) : JSON.stringify(v));

/** The image's repository name: no registry, namespace, tag or digest. */
function repoName(image: string): string {
  const noDigest = image.split("@")[0] as string;
  const base = noDigest.slice(noDigest.lastIndexOf("/") + 1);
  return (base.split(":")[0] as string).toLowerCase();
}

/** A compose service name as a scenario service name: lower-case letters, digits and '-'. */
function scenarioName(name: string, taken: Set<string>): string {
  let n = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (!/^[a-z]/.test(n)) n = `s-${n}`;
  n = n.slice(0, 31).replace(/-+$/, "");
  if ((RESERVED_NAMES as readonly string[]).includes(n)) n = `${n}-svc`;
  let unique = n;
  for (let i = 2; taken.has(unique); i++) unique = `${n.slice(0, 28)}-${i}`;
  taken.add(unique);
  return unique;
}

/** Compose durations: "1m30s", "10s", "500ms" → ms. */
function composeDuration(v: unknown): number | undefined {
  if (typeof v === "number") return v / 1e6; // nanoseconds, as compose reads a bare number
  if (typeof v !== "string") return undefined;
  const unit: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let rest = v.trim();
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)/.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * (unit[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return ms;
}
const seconds = (ms: number): string => `${Math.ceil(ms / 1000)}s`;

/** Compose's `$` interpolation in one string. `${NAME}` and `${NAME:?err}` stay `${NAME}` (a
 * scenario's env reads it from the harness's environment when the container is created, as
 * compose reads it from the shell); `${NAME:-default}` becomes the default, `$NAME` becomes
 * `${NAME}`, `$$` a `$`. Returns the names whose defaults were written in. */
function interpolate(v: string): { value: string; defaulted: string[] } {
  const defaulted: string[] = [];
  const value = v.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (all, name?: string, op?: string, arg?: string, bare?: string) => {
      if (all === "$$") return "$";
      if (bare) return `\${${bare}}`;
      if (!op || op.endsWith("?")) return `\${${name}}`;
      defaulted.push(name as string);
      return op.endsWith("-") ? (arg ?? "") : ""; // ${X:+alt}: compose gives alt when X is set; unknowable here
    },
  );
  return { value, defaulted };
}

/** Every string in a parsed service, interpolated; object keys are left alone. */
function interpolateAll(v: unknown, defaulted: Set<string>): unknown {
  if (typeof v === "string") {
    const r = interpolate(v);
    for (const d of r.defaulted) defaulted.add(d);
    return r.value;
  }
  if (Array.isArray(v)) return v.map((x) => interpolateAll(x, defaulted));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateAll(x, defaulted)]));
  return v;
}

/** Shell-like split of a compose string command (quotes group, backslash escapes). */
export function splitCommand(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (ch === "\\" && i + 1 < s.length) {
      cur += s[++i];
      any = true;
    } else if (/\s/.test(ch)) {
      if (any || cur) out.push(cur);
      cur = "";
      any = false;
    } else cur += ch;
  }
  if (any || cur) out.push(cur);
  return out;
}

const toList = (v: unknown): string[] | undefined =>
  typeof v === "string" ? splitCommand(v) : Array.isArray(v) ? v.map((x) => String(x)) : undefined;

interface PortSpec {
  container: number;
  published?: string;
  text: string;
  udp: boolean;
}

/** One `ports:` or `expose:` entry → the container's port. */
function portSpec(p: unknown): PortSpec | undefined {
  if (typeof p === "number") return { container: p, text: String(p), udp: false };
  if (typeof p === "string") {
    const [body, proto] = p.split("/") as [string, string | undefined];
    // [ip:][host:]container; an IPv6 ip is bracketed, so the container part is after the last ':'.
    const i = body.lastIndexOf(":");
    const container = Number((body.slice(i + 1).split("-")[0] as string).trim());
    const published = i >= 0 ? body.slice(0, i).replace(/^.*:/, "") : undefined;
    return Number.isInteger(container) && container > 0 && container < 65536
      ? { container, ...(published ? { published } : {}), text: p, udp: proto === "udp" }
      : undefined;
  }
  if (isObject(p)) {
    const container = Number(p.target);
    return Number.isInteger(container) && container > 0 && container < 65536
      ? {
          container,
          ...(p.published !== undefined ? { published: String(p.published) } : {}),
          text: `${p.published ?? ""}${p.published !== undefined ? ":" : ""}${container}`,
          udp: p.protocol === "udp",
        }
      : undefined;
  }
  return undefined;
}

/** `environment:` as a map or a `K=V` list; a bare `K` (compose: from the shell) is `${K}`. */
function envOf(v: unknown): [string, string][] {
  const fromShell = (k: string) => `\${${k}}`;
  if (Array.isArray(v))
    return v.map((e): [string, string] => {
      const s = String(e);
      const i = s.indexOf("=");
      return i < 0 ? [s, fromShell(s)] : [s.slice(0, i), s.slice(i + 1)];
    });
  if (isObject(v))
    return Object.entries(v).map(([k, x]): [string, string] => [k, x === null || x === undefined ? fromShell(k) : String(x)]);
  return [];
}

/** The port an env value dials `name` on (`name:3000`, `http://name:3000/`). */
function dialedPort(value: string, name: string): number | undefined {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const m = new RegExp(`(?:^|[\\s@/,=;'"(])${esc}:(\\d{1,5})(?!\\d)`, "i").exec(value);
  const p = m ? Number(m[1]) : undefined;
  return p !== undefined && p > 0 && p < 65536 ? p : undefined;
}

/** Whether build args name `k` bare (`- K` in a list, `K:` with no value in a map). */
const isBare = (b: Obj, k: string): boolean =>
  Array.isArray(b.args) ? b.args.includes(k) : isObject(b.args) && (b.args[k] === null || b.args[k] === undefined);

/** Whether an env value names `name` as a host (host names are case-insensitive). */
function mentions(value: string, name: string): boolean {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // A host: the whole value, or after a start, space, '@', '/', ',', '=' or quote, and followed by
  // an end, ':' (a port, not '://', which is a scheme), '/', ',', ';', '?' or space.
  return new RegExp(`(^|[\\s@/,=;'"(])${esc}(?=$|:(?!//)|[\\s/,;'")?])`, "i").test(value);
}

const HANDLED = new Set([
  "image",
  "build",
  "environment",
  "command",
  "ports",
  "expose",
  "healthcheck",
  "deploy",
  "mem_limit",
  "cpus",
  "ulimits",
  "restart",
  "depends_on",
  "links",
  "scale",
]);

/** What a key the scenario has no field for held, briefly, for the comment that names it. */
function detail(key: string, v: unknown): string {
  if (key === "volumes" && Array.isArray(v)) {
    const vols = v.map((x) => {
      const s = typeof x === "string" ? x : isObject(x) ? `${x.source ?? ""}:${x.target ?? ""}` : String(x);
      const src = s.split(":")[0] ?? "";
      const what =
        isObject(x) && x.type ? String(x.type) : !s.includes(":") ? "anonymous" : /^[./~$]/.test(src) ? "bind mount" : "named volume";
      return `${s}, ${what}`;
    });
    return `volumes (${oneLine(vols.join("; "), 100)})`;
  }
  if (["entrypoint", "env_file", "network_mode", "extends", "user", "working_dir"].includes(key))
    return `${key} (${oneLine(typeof v === "string" ? v : JSON.stringify(v))})`;
  if (key === "networks" || key === "secrets" || key === "configs" || key === "profiles") {
    const names = Array.isArray(v) ? v.map((x) => (isObject(x) ? String(x.source ?? "?") : String(x))) : isObject(v) ? Object.keys(v) : [];
    return names.length ? `${key} (${oneLine(names.join(", "))})` : key;
  }
  if (key === "volumes" && isObject(v)) {
    const names = Object.keys(v);
    return names.length ? `${key} (${oneLine(names.join(", "))})` : key;
  }
  return key;
}

interface Svc {
  compose: string;
  name: string;
  kind: string;
  line: number;
  /** Lines of the service body, indented 4. */
  body: string[];
  notCarried: string[];
  port?: number;
  /** A port published on the host, and whether the service looks like it speaks HTTP. */
  published: boolean;
  http: boolean;
  image?: string;
  env: [string, string][];
  deps: { to: string; why: string }[];
}

const WEB_NAME = /^(web|www|app|api|frontend|front|site|http|nginx|httpd|apache|server|gateway|proxy|lb|ui)/;
const WEB_IMAGE = /nginx|httpd|apache|caddy|traefik|envoy|mediawiki|wordpress|drupal|joomla|ghost|node|php|python|tomcat|jetty/;
const WEB_PORTS = new Set([80, 443, 3000, 5000, 8000, 8008, 8080, 8081, 8088, 8443, 8888, 9000]);

/** Converts compose text. Throws ComposeInvalid when it is not a compose file Cascade can read. */
export function composeToScenario(text: string, o: ConvertOptions): Converted {
  const lc = new LineCounter();
  // merge: compose files share settings through `<<: *defaults`.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, merge: true });
  const err = doc.errors[0];
  if (err) throw new ComposeInvalid(o.file, lc.linePos(err.pos[0]).line, `not YAML: ${oneLine(err.message, 120)}`);
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (e) {
    throw new ComposeInvalid(o.file, undefined, `cannot read the YAML: ${oneLine((e as Error).message, 120)}`);
  }
  const noServices = "no services: a compose file declares its containers under `services:`";
  if (!isObject(raw))
    throw new ComposeInvalid(o.file, 1, raw === null || raw === undefined ? `the file is empty; ${noServices}` : noServices);
  const keyLine = (path: (string | number)[], key: string) => locateKey(doc, lc, path, key).line;
  if (!isObject(raw.services) || Object.keys(raw.services).length === 0)
    throw new ComposeInvalid(o.file, raw.services === undefined ? 1 : keyLine([], "services"), noServices);
  const composeServices = raw.services;
  for (const [n, s] of Object.entries(composeServices))
    if (!isObject(s))
      throw new ComposeInvalid(o.file, keyLine(["services"], n), `services.${n} is not a mapping (it needs at least an image or a build)`);
  const outDir = dirname(resolve(o.out));
  const composeDir = dirname(resolve(o.file));

  const notes: ComposeNote[] = [];
  const next: string[] = [];
  const taken = new Set<string>();
  const names = new Map(Object.keys(composeServices).map((n) => [n, scenarioName(n, taken)]));
  const project = scenarioName(typeof raw.name === "string" && raw.name ? raw.name : (composeDir.split("/").pop() ?? "compose"), new Set());

  const svcs: Svc[] = [];
  const buildContexts: { service: string; dir: string }[] = [];
  for (const [cname, rawSvc] of Object.entries(composeServices)) {
    const at = ["services", cname];
    const defaulted = new Set<string>();
    const s = interpolateAll(rawSvc, defaulted) as Obj;
    const name = names.get(cname) as string;
    const svc: Svc = {
      compose: cname,
      name,
      kind: "image",
      line: keyLine(["services"], cname),
      body: [],
      notCarried: [],
      published: false,
      http: false,
      env: envOf(s.environment),
      deps: [],
    };
    const note = (key: string | undefined, textOf: string) =>
      notes.push({ line: key ? keyLine(at, key) : svc.line, service: cname, text: textOf });
    const notCarried = (key: string, what: string) => {
      svc.notCarried.push(what);
      note(key, `not carried over: ${what}`);
    };
    const comment = (c: string) => svc.body.push(`    # ${c}`);
    const field = (k: string, v: string, c?: string) => svc.body.push(`    ${k}: ${v}${c ? `  # ${c}` : ""}`);

    if (name !== cname) {
      comment(`compose service ${JSON.stringify(cname)}: scenario names are lower-case letters, digits and '-'`);
      note(undefined, `renamed to "${name}": the app's own references to "${cname}" will not resolve in the run`);
    }

    // Kind and image: a build is the user's own image; a well-known image is a built-in kind.
    const image = typeof s.image === "string" && s.image ? s.image : undefined;
    const known = s.build === undefined && image ? KNOWN_IMAGES.find((k) => k.image.test(repoName(image))) : undefined;
    if (known) {
      svc.kind = known.kind;
      field(
        "kind",
        known.kind,
        `from image ${oneLine(image as string)}: Cascade runs its own ${known.kind} image (official or offline) and reads its counters`,
      );
    } else field("kind", "image");
    if (!known) {
      const tag = image ?? `${project}-${name}`;
      svc.image = tag;
      if (s.build !== undefined)
        field("image", scalar(tag), image ? "the tag the build gets" : "the tag the build gets (compose's default name)");
      else if (image && /\$\{/.test(image)) {
        field("image", scalar(image), "FILL IN: compose fills its variables in from the shell; a scenario only in env");
        next.push(`services.${name}.image: ${image} names variables; write the image itself`);
      } else if (image) field("image", scalar(image));
      else {
        field("image", scalar(tag), "FILL IN: compose gave neither image nor build");
        next.push(`services.${name}.image: compose gave neither image nor build`);
      }
    }

    if (s.build !== undefined) {
      const b = s.build;
      const ctx = typeof b === "string" ? b : isObject(b) && typeof b.context === "string" ? b.context : ".";
      const remote = /^[a-z]+:\/\/|^git@|\.git(#.*)?$/.test(ctx);
      let rel = ctx;
      if (!remote) {
        const abs = isAbsolute(ctx) ? ctx : resolve(composeDir, ctx);
        rel = relative(outDir, abs) || ".";
        if (!rel.startsWith(".") && !isAbsolute(rel)) rel = `./${rel}`;
      }
      // An arg with no value is taken from compose's shell at build time, if set there.
      const rawArgs = isObject(b) ? envOf(b.args) : [];
      const args = rawArgs.filter(([k, v]) => v !== `\${${k}}` || !(isObject(b) && isBare(b, k)));
      const shellArgs = rawArgs.filter((a) => !args.includes(a)).map(([k]) => k);
      if (shellArgs.length) notCarried("build", `build.args ${shellArgs.join(", ")} (no value: compose takes it from its shell)`);
      const dockerfile = isObject(b) && typeof b.dockerfile === "string" ? b.dockerfile : undefined;
      if (!dockerfile && args.length === 0) field("build", scalar(rel), ctx !== rel ? `compose: ${oneLine(ctx)}` : undefined);
      else {
        field("build", "");
        svc.body.push(`      context: ${scalar(rel)}${ctx !== rel ? `  # compose: ${oneLine(ctx)}` : ""}`);
        if (dockerfile) svc.body.push(`      dockerfile: ${scalar(dockerfile)}  # inside the context`);
        if (args.length) {
          svc.body.push("      args:");
          for (const [k, v] of args) svc.body.push(`        ${scalar(k)}: ${scalar(v)}`);
        }
      }
      if (!remote) buildContexts.push({ service: name, dir: resolve(outDir, rel) });
      if (isObject(b)) {
        const other = Object.keys(b).filter((k) => !["context", "dockerfile", "args"].includes(k));
        if (other.length) notCarried("build", `build.${other.join(", build.")}`);
      }
    }

    // command: a built-in kind is started with Cascade's own flags (its samplers depend on them);
    // memcached's connection limit is a field of its own.
    const cmd = toList(s.command);
    if (cmd) {
      if (svc.kind === "image") field("command", `[${cmd.map((c) => JSON.stringify(c)).join(", ")}]`);
      else if (svc.kind === "memcached") {
        const rest: string[] = [];
        let conns: number | undefined;
        for (let i = 0; i < cmd.length; i++) {
          const a = cmd[i] as string;
          const eq = /^--conn-limit=(\d+)$/.exec(a) ?? /^-c(\d+)$/.exec(a);
          if (eq) conns = Number(eq[1]);
          else if ((a === "-c" || a === "--conn-limit") && /^\d+$/.test(cmd[i + 1] ?? "")) conns = Number(cmd[++i]);
          else if (!(i === 0 && a === "memcached")) rest.push(a);
        }
        if (conns !== undefined && conns >= 1) field("connections", String(conns), `command: ${oneLine(cmd.join(" "))}`);
        if (rest.length)
          notCarried("command", `command flags ${oneLine(rest.join(" "))} (Cascade sets memcached's -m from memory: and its own -p)`);
      } else notCarried("command", `command (${oneLine(cmd.join(" "))}): Cascade starts ${svc.kind} with its own flags`);
    } else if (s.command !== undefined && s.command !== null) notCarried("command", "command (not a string or a list)");

    // The port the service listens on: the container side of ports:, else expose:, else the port
    // its HTTP healthcheck asks.
    const ports = (Array.isArray(s.ports) ? s.ports : []).map(portSpec).filter((p): p is PortSpec => p !== undefined && !p.udp);
    const exposed = (Array.isArray(s.expose) ? s.expose : []).map(portSpec).filter((p): p is PortSpec => p !== undefined && !p.udp);
    const udp = (Array.isArray(s.ports) ? s.ports : []).map(portSpec).filter((p) => p?.udp);
    if (udp.length) notCarried("ports", `udp ports (${udp.map((p) => p?.text).join(", ")})`);
    const chosen = ports[0] ?? exposed[0];
    svc.published = ports.some((p) => p.published !== undefined);
    const hc = healthcheck(s.healthcheck);
    // Compose needs no port declared between services on one network: the port others dial it on
    // (`api:3000` in their env) is the next best witness.
    const dialed = Object.entries(composeServices)
      .filter(([n]) => n !== cname)
      .flatMap(([, o]) => envOf((o as Obj).environment).map(([, v]) => dialedPort(v, cname)))
      .find((p) => p !== undefined);
    let port = chosen?.container ?? hc.url?.port ?? dialed;
    const portComment = ports[0]
      ? `compose ports: ${JSON.stringify(ports[0].text)}; Cascade reaches it on the run's network`
      : exposed[0]
        ? "compose expose"
        : hc.url !== undefined
          ? "the port its healthcheck asks"
          : "the port other services dial it on";
    const guessed = port === undefined && svc.kind === "image";
    if (guessed) {
      port = 80;
      field("port", "80", "FILL IN: compose names no port; kind: image needs the one it listens on");
      next.push(`services.${name}.port: guessed 80; set the port ${cname} listens on (and its ready: check)`);
    } else if (port !== undefined && !(known && port === known.port)) field("port", String(port), portComment);
    svc.port = port ?? known?.port;
    const extra = [...ports, ...exposed].filter((p) => p.container !== port);
    if (extra.length)
      notCarried(ports.length > 1 ? "ports" : "expose", `ports ${extra.map((p) => p.text).join(", ")} (a service has one port)`);

    // replicas, resources, ulimits, restart.
    const deploy = isObject(s.deploy) ? s.deploy : {};
    const replicas = deploy.replicas ?? s.scale;
    if (replicas !== undefined) {
      const n = Number(replicas);
      if (Number.isInteger(n) && n >= 1 && n <= 50) field("replicas", String(n));
      else notCarried(deploy.replicas !== undefined ? "deploy" : "scale", `replicas ${String(replicas)} (Cascade runs 1 to 50)`);
    }
    const policy = isObject(deploy.restart_policy) ? deploy.restart_policy : undefined;
    const resources = isObject(deploy.resources) ? deploy.resources : {};
    const limits = isObject(resources.limits) ? resources.limits : {};
    const cpus = limits.cpus ?? s.cpus;
    if (cpus !== undefined) {
      const n = Number(cpus);
      if (n > 0 && n <= 64) field("cpus", String(n));
      else notCarried(limits.cpus !== undefined ? "deploy" : "cpus", `cpus ${String(cpus)} (0 < cpus ≤ 64)`);
    }
    const memory = limits.memory ?? s.mem_limit;
    if (memory !== undefined) {
      const b = typeof memory === "number" || typeof memory === "string" ? parseBytes(memory) : undefined;
      if (b !== undefined && b >= 6 * 2 ** 20 && b <= 2 ** 40)
        field("memory", scalar(typeof memory === "number" ? memory : String(memory).toLowerCase()));
      else notCarried(limits.memory !== undefined ? "deploy" : "mem_limit", `memory ${String(memory)} (6m to 1t)`);
    }
    for (const k of Object.keys(limits)) if (k !== "cpus" && k !== "memory") notCarried("deploy", `deploy.resources.limits.${k}`);
    for (const k of Object.keys(resources)) if (k !== "limits") notCarried("deploy", `deploy.resources.${k}`);
    for (const k of Object.keys(deploy)) if (!["replicas", "resources", "restart_policy"].includes(k)) notCarried("deploy", `deploy.${k}`);
    for (const k of Object.keys(policy ?? {})) if (k !== "condition") notCarried("deploy", `deploy.restart_policy.${k}`);

    if (isObject(s.ulimits)) {
      svc.body.push("    ulimits:");
      for (const [k, v] of Object.entries(s.ulimits)) {
        const soft = isObject(v) ? Number(v.soft) : Number(v);
        const hard = isObject(v) ? Number(v.hard) : soft;
        if (Number.isInteger(soft) && soft >= 0)
          svc.body.push(
            `      ${scalar(k)}: ${soft}${hard !== soft ? `  # compose soft ${soft}, hard ${hard}: Cascade sets both to ${soft}` : ""}`,
          );
        else notCarried("ulimits", `ulimits.${k} (${oneLine(JSON.stringify(v))})`);
      }
      if (svc.body.at(-1) === "    ulimits:") svc.body.pop();
    }

    const restart =
      typeof s.restart === "string"
        ? s.restart
        : policy
          ? ({ none: "no", "on-failure": "on-failure", any: "always" } as Record<string, string>)[String(policy.condition ?? "any")]
          : undefined;
    if (restart !== undefined) {
      const [mode, count] = restart.split(":");
      if (["no", "on-failure", "always", "unless-stopped"].includes(mode as string))
        field(
          "restart",
          mode === "no" ? '"no"' : (mode as string),
          count ? `compose: ${oneLine(restart)}; Cascade's on-failure has no retry count` : undefined,
        );
      else notCarried("restart", `restart ${restart}`);
    }

    const own = known?.ownEnv;
    const taken = own ? svc.env.filter(([k]) => own.test(k)).map(([k]) => k) : [];
    if (taken.length) {
      svc.env = svc.env.filter(([k]) => !taken.includes(k));
      notCarried("environment", `env ${taken.join(", ")} (Cascade's ${svc.kind} sets these for the role its samplers log in as)`);
    }
    if (svc.env.length) {
      svc.body.push("    env:");
      for (const [k, v] of svc.env) svc.body.push(`      ${scalar(k)}: ${scalar(v)}`);
    }
    if (defaulted.size)
      comment(
        `compose's defaults for ${[...defaulted].map((d) => `\${${d}}`).join(", ")} are written in; a \${NAME} left in env is read from the harness's environment`,
      );

    // Readiness. With no port known a TCP check could never pass (a worker may listen on none).
    const timeoutOf = (h: Health) =>
      h.waitMs !== undefined && h.waitMs > 60_000 ? `, timeout: ${seconds(Math.min(h.waitMs, 24 * 3_600_000))}` : "";
    if (guessed && !hc.url) {
      // compose's own command runs in the container as it would under compose
      if (hc.command && !hc.disabled && svc.kind === "image")
        field("ready", `{ command: ${flowCommand(hc.command)}${timeoutOf(hc)} }`, `healthcheck: ${oneLine(hc.test ?? "", 80)}`);
      else field("ready", '{ log: "." }', `FILL IN: ready at its first log line; write the line ${cname} logs once ready`);
    } else if (hc.disabled) comment("compose disables its healthcheck; Cascade waits for its own default check");
    else if (hc.test !== undefined) {
      const shown = oneLine(hc.test, 80);
      const timeout = timeoutOf(hc);
      if (svc.kind !== "image") comment(`healthcheck (${shown}): Cascade's own ${svc.kind} readiness check stands in`);
      else if (hc.url && !hc.url.https && hc.url.port === port)
        field("ready", `{ http: ${flowScalar(hc.url.path)}${timeout} }`, `healthcheck: ${shown}`);
      // ready.http asks the service's own port over plain HTTP; anything else runs compose's own
      // command in the container, as compose would.
      else if (hc.command) field("ready", `{ command: ${flowCommand(hc.command)}${timeout} }`, `healthcheck: ${shown}`);
    }

    // Dependencies: depends_on (list or map), legacy links, and hosts named in env values.
    const depNames = Array.isArray(s.depends_on) ? s.depends_on.map(String) : isObject(s.depends_on) ? Object.keys(s.depends_on) : [];
    for (const d of depNames) svc.deps.push({ to: d, why: "depends_on" });
    for (const l of Array.isArray(s.links) ? s.links.map(String) : []) {
      const [to, alias] = l.split(":") as [string, string | undefined];
      svc.deps.push({ to, why: "links" });
      if (alias && alias !== to) notCarried("links", `links alias ${alias} (the service is reached as ${to})`);
    }
    for (const [k, v] of svc.env)
      for (const other of Object.keys(composeServices))
        if (other !== cname && mentions(v, other)) svc.deps.push({ to: other, why: `env ${k}` });

    for (const k of Object.keys(s)) if (!HANDLED.has(k) && !k.startsWith("x-")) notCarried(k, detail(k, s[k]));
    if (svc.notCarried.length) comment(`not carried over: ${svc.notCarried.join(", ")}`);
    svc.http =
      (!guessed && WEB_PORTS.has(svc.port ?? 0)) || hc.url !== undefined || WEB_NAME.test(cname) || WEB_IMAGE.test(svc.image ?? "");
    svcs.push(svc);
  }

  // haproxy needs the service it balances: the first non-built-in service it depends on.
  const byCompose = new Map(svcs.map((s) => [s.compose, s]));
  for (const s of svcs) {
    if (s.kind !== "haproxy") continue;
    const backend = s.deps.map((d) => byCompose.get(d.to)).find((d) => d && (d.kind === "image" || d.kind === "app"));
    const guess = backend ?? svcs.find((d) => d.kind === "image");
    s.body.splice(
      1,
      0,
      `    backend: ${guess?.name ?? "FILL-IN"}  # ${backend ? "the service it depends on" : "FILL IN: a guess"}; HAProxy's config is Cascade's own`,
    );
    if (!backend) next.push(`services.${s.name}.backend: the service HAProxy balances (a guess: ${guess?.name ?? "none"})`);
  }

  // Links, deduplicated, with why each exists; a link into an unknown service is a note.
  const links: { from: string; to: string; why: string[]; proxy: boolean }[] = [];
  for (const s of svcs)
    for (const d of s.deps) {
      const to = byCompose.get(d.to);
      if (!to) {
        notes.push({ line: s.line, service: s.compose, text: `${d.why} names "${d.to}", which is not a service of this file` });
        continue;
      }
      if (to === s) continue;
      const l = links.find((x) => x.from === s.name && x.to === to.name);
      if (l) {
        if (!l.why.includes(d.why)) l.why.push(d.why);
      } else links.push({ from: s.name, to: to.name, why: [d.why], proxy: !(s.kind === "haproxy") });
    }

  // Load: at what publishes an HTTP port (an HAProxy in front first), else what looks like the web.
  const front =
    svcs.find((s) => s.kind === "haproxy" && s.published) ??
    svcs.find((s) => s.kind === "image" && s.published && s.http) ??
    svcs.find((s) => s.kind === "image" && s.http) ??
    svcs.find((s) => s.kind === "haproxy") ??
    svcs.find((s) => s.kind === "image");
  if (!front) next.push("load.target: no service here speaks HTTP; load needs one (kind: image, haproxy or app)");
  const target = front ?? (svcs[0] as Svc);

  const out: string[] = [
    `# Written by \`cascade init --from ${o.file}\`.`,
    "# Check each service, then fill in load, faults and slo below; `cascade validate` checks the file.",
    `name: ${scalar(project)}`,
    `description: ${scalar(`From ${o.file.split("/").pop()}: ${svcs.map((s) => s.name).join(", ")}. Load, faults and SLO are stubs to fill in.`)}`,
  ];
  const topLevel = Object.keys(raw).filter((k) => !["services", "name", "version"].includes(k) && !k.startsWith("x-"));
  for (const k of topLevel) notes.push({ line: keyLine([], k), text: `not carried over: top-level ${detail(k, raw[k])}` });
  if (topLevel.length) out.push(`# not carried over: top-level ${topLevel.map((k) => detail(k, raw[k])).join(", ")}`);
  out.push("services:");
  for (const s of svcs) out.push(`  ${s.name}:`, ...s.body);
  if (links.length) {
    out.push(
      "# Proxied links (the default) go through Toxiproxy, so faults can act on them; the app keeps the",
      "# hostnames it already uses.",
      "links:",
    );
    for (const l of links)
      out.push(
        `  - { from: ${l.from}, to: ${l.to}${l.proxy ? "" : ", proxy: false"} }  # ${l.why.join("; ")}${l.proxy ? "" : "; HAProxy dials its servers itself"}`,
      );
  } else out.push("links: []  # none found: add { from: a, to: b } for each dependency faults should act on");

  const linkFault = links.find((l) => l.proxy);
  const killable = svcs.find((s) => s.kind !== "image" && s.kind !== "haproxy") ?? svcs.find((s) => s !== target);
  out.push(
    "# FILL IN: the requests your users send and how many a second. A first run: a short warm-up,",
    "# then a steady rate the system holds comfortably.",
    "load:",
    `  target: ${target.name}  # ${front ? "it publishes an HTTP port" : "FILL IN: no service here speaks HTTP"}`,
    "  path: /",
    "  timeout: 5s",
    "  phases:",
    "    - { duration: 10s, rate: 5 }",
    "    - { duration: 50s, rate: 20 }",
    "# FILL IN: what to break, on the load's clock. Replace [] with entries such as:",
    ...(linkFault
      ? [
          `#   - { name: ${linkFault.to}-latency, at: 30s, kind: latency, link: ${linkFault.from}->${linkFault.to}, latency: 200ms, duration: 15s }`,
        ]
      : []),
    ...(killable && killable !== target
      ? [
          `#   - { name: kill-${killable.name}, at: 30s, kind: kill, service: ${killable.name} }`,
          `#   - { at: 40s, kind: start, service: ${killable.name} }`,
        ]
      : []),
    "faults: []",
    "# FILL IN: what users must get, e.g.",
    "# slo: { availability: 99%, p99: 1s, recovery: 30s }",
    "# expect: { cascade: false }",
    "",
  );
  next.push("load: the path your users request and the rate (load.phases)");
  next.push("faults: what to break, and when (examples in the comments)");
  next.push("slo: what users must get");
  return {
    text: out.join("\n"),
    notes: notes.sort((a, b) => a.line - b.line),
    next,
    services: svcs.map((s) => s.name),
    links: links.map((l) => `${l.from}->${l.to}`),
    ...(front ? { target: front.name } : {}),
    buildContexts,
  };
}

interface Health {
  disabled: boolean;
  /** The check as one line. */
  test?: string;
  /** The check as ready.command takes it: CMD's list, or CMD-SHELL's string (run under sh -c). */
  command?: string | string[];
  url?: { path: string; port: number; https: boolean };
  /** How long compose would wait before calling the service unhealthy: start_period + retries × interval. */
  waitMs?: number;
}

/** A command for ready.command in YAML flow style: a string, or a list of strings. */
function flowCommand(c: string | string[]): string {
  return typeof c === "string" ? flowScalar(c) : `[${c.map((x) => flowScalar(x)).join(", ")}]`;
}

/** A compose healthcheck: a curl or wget of a local URL is an HTTP check; anything else is a command. */
function healthcheck(h: unknown): Health {
  if (!isObject(h)) return { disabled: false };
  const t = h.test;
  const list = Array.isArray(t) ? t.map(String) : typeof t === "string" ? ["CMD-SHELL", t] : undefined;
  if (h.disable === true || list?.[0] === "NONE") return { disabled: true };
  if (!list) return { disabled: false };
  const test = list[0] === "CMD" || list[0] === "CMD-SHELL" ? list.slice(1).join(" ") : list.join(" ");
  const command = list[0] === "CMD" ? list.slice(1) : list[0] === "CMD-SHELL" ? list.slice(1).join(" ") : list;
  const m = /\b(?:curl|wget)\b[^|;&]*?\b(https?):\/\/(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(\d+))?(\/[^\s'"|;&]*)?/.exec(test);
  const interval = composeDuration(h.interval ?? "30s") ?? 30_000;
  const retries = Number.isInteger(h.retries) ? (h.retries as number) : 3;
  const start = composeDuration(h.start_period ?? "0s") ?? 0;
  return {
    disabled: false,
    test,
    ...(test.trim() ? { command } : {}),
    // A URL without a port asks the scheme's own: 80, or 443.
    ...(m ? { url: { path: m[3] ?? "/", https: m[1] === "https", port: m[2] ? Number(m[2]) : m[1] === "https" ? 443 : 80 } } : {}),
    waitMs: start + retries * interval,
  };
}
