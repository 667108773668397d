// cascade init --from docker-compose.yml: compose files written like real ones, converted, and the
// scenario checked field by field and by the validator itself.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { isMap, isSeq, parse, parseDocument, stringify } from "yaml";
import { ComposeInvalid, composeToScenario, KNOWN_IMAGES, splitCommand } from "../../src/scenario/compose.js";
import { parseScenario } from "../../src/scenario/load.js";
import { Service, ServiceKind } from "../../src/scenario/schema.js";
import { DEFAULT_PORT } from "../../src/topology/plan.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MEDIAWIKI = join(ROOT, "examples/mediawiki/docker-compose.yml");
/** A scenario env reference, ${NAME}. */
const ref = (name: string) => `\${${name}}`;
const tmp = () => mkdtempSync(join(tmpdir(), "cascade-init-"));

type Obj = Record<string, unknown>;
interface Written {
  name: string;
  services: Record<string, Obj & { env?: Record<string, string> }>;
  links: { from: string; to: string; proxy?: boolean }[];
  load: Obj;
  faults: unknown[];
}

/** Validates what this branch's schema knows: the `build:` field and the redis and mariadb kinds
 * arrive from other branches, so until they are merged those parts are taken out (and said so);
 * once merged, the whole file is validated. */
function validateKnown(text: string): { stripped: string[] } {
  const doc = parseDocument(text);
  const stripped: string[] = [];
  const services = doc.get("services");
  if (!isMap(services)) throw new Error("no services");
  const kinds = ServiceKind.options as readonly string[];
  const gone = new Set<string>();
  for (const pair of [...services.items]) {
    const name = String((pair.key as { value: unknown }).value);
    const svc = pair.value;
    if (!isMap(svc)) continue;
    if (!kinds.includes(String(svc.get("kind")))) {
      services.delete(name);
      gone.add(name);
      stripped.push(`${name} (kind ${String(svc.get("kind"))})`);
    } else if (!("build" in Service.shape) && svc.has("build")) {
      svc.delete("build");
      stripped.push(`${name}.build`);
    }
  }
  const links = doc.get("links");
  if (isSeq(links))
    links.items = links.items.filter((l) => !(isMap(l) && (gone.has(String(l.get("from"))) || gone.has(String(l.get("to"))))));
  parseScenario(doc.toString(), "written.yaml");
  return { stripped };
}

const convert = (text: string, file = "/srv/shop/docker-compose.yml", out = "/srv/shop/cascade.yaml") => {
  const r = composeToScenario(text, { file, out });
  return { ...r, s: parse(r.text) as Written };
};
/** The scenario text of one service: from its key to the next service's. */
const block = (text: string, name: string) => {
  const from = text.indexOf(`\n  ${name}:\n`);
  const rest = text.slice(from + 1);
  const end = rest.slice(1).search(/\n {2}[a-z][a-z0-9-]*:\n|\n[a-z#]/);
  return rest.slice(0, end + 1);
};
const lineOf = (text: string, needle: string, after = 0) => {
  const at = text.indexOf(needle, after);
  return text.slice(0, at).split("\n").length;
};

describe("MediaWiki's compose file (web built from scenarios/real/mediawiki, memcached, MariaDB)", () => {
  const text = readFileSync(MEDIAWIKI, "utf8");
  const out = join(ROOT, "examples/mediawiki/cascade.yaml");
  const r = convert(text, MEDIAWIKI, out);

  it("carries each service over with its kind, build, port, env, health and limits", () => {
    expect(Object.keys(r.s.services)).toEqual(["web", "memcached", "database"]);
    const { web, memcached, database } = r.s.services as Record<string, Obj>;
    expect(web).toMatchObject({
      kind: "image",
      image: "cascade-mediawiki:1.39",
      build: "../../scenarios/real/mediawiki",
      port: 80,
      restart: "unless-stopped",
      ready: { http: "/index.php?title=Main_Page", timeout: "80s" }, // start_period 30s + 5 retries × 10s
    });
    expect(web?.env).toMatchObject({
      MEDIAWIKI_DB_HOST: "database",
      MEDIAWIKI_MEMCACHED_SERVERS: "memcached:11211",
      MEDIAWIKI_DB_PASSWORD: "wikipass", // ${WIKI_DB_PASSWORD:-wikipass}: compose's default
    });
    // memcached -c 1024 is memcached's own field; the kind brings its image and samplers.
    expect(memcached).toEqual({ kind: "memcached", connections: 1024, restart: "unless-stopped" });
    expect(database).toMatchObject({ kind: "mariadb", cpus: 1, memory: "1g", env: { MARIADB_DATABASE: "wiki", MARIADB_USER: "wiki" } });
    expect(database).not.toHaveProperty("ready"); // the kind's own check stands in for healthcheck.sh
    expect(database).not.toHaveProperty("image");
  });

  it("links web to what it depends on and names in its env; load on the web; no faults yet", () => {
    expect(r.s.links).toEqual([
      { from: "web", to: "database" },
      { from: "web", to: "memcached" },
    ]);
    expect(r.text).toMatch(/from: web, to: database \}\s+# depends_on; env MEDIAWIKI_DB_HOST/);
    expect(r.s.load).toMatchObject({ target: "web", path: "/" });
    expect(r.s.faults).toEqual([]);
    expect(r.text).toContain(
      "#   - { name: database-latency, at: 30s, kind: latency, link: web->database, latency: 200ms, duration: 15s }",
    );
    expect(r.text).toContain("# slo: {");
  });

  it("names what it did not carry over beside its service and in a note with the compose line", () => {
    expect(block(r.text, "web")).toContain("# not carried over: volumes (wiki-images:/var/www/html/images, named volume), networks (wiki)");
    expect(block(r.text, "database")).toContain("# not carried over: volumes (db-data:/var/lib/mysql, named volume), networks (wiki)");
    expect(r.text).toContain("# not carried over: top-level volumes (wiki-images, db-data), networks (wiki)");
    const webVolumes = r.notes.find((n) => n.service === "web" && n.text.startsWith("not carried over: volumes"));
    expect(webVolumes?.line).toBe(lineOf(text, "    volumes:"));
    const dbVolumes = r.notes.find((n) => n.service === "database" && n.text.startsWith("not carried over: volumes"));
    expect(dbVolumes?.line).toBe(lineOf(text, "    volumes:", text.indexOf("\n  database:")));
    expect(r.notes.filter((n) => n.service === undefined).map((n) => n.text)).toEqual([
      "not carried over: top-level volumes (wiki-images, db-data)",
      "not carried over: top-level networks (wiki)",
    ]);
  });

  it("validates as written (what this branch's schema knows)", () => {
    const { stripped } = validateKnown(r.text);
    // Only parts another branch brings may be left out, nothing else.
    for (const s of stripped) expect(s).toMatch(/^web\.build$|^database \(kind mariadb\)$/);
  });

  it("with Postgres as the database, every service but the build validates", () => {
    const pg = text.replace("image: mariadb:11", "image: postgres:16");
    const c = convert(pg, MEDIAWIKI, out);
    expect(c.s.services.database?.kind).toBe("postgres");
    expect(validateKnown(c.text).stripped.filter((s) => s !== "web.build")).toEqual([]);
  });

  it("rewrites the build context relative to where the scenario is written", () => {
    const dir = tmp();
    const c = convert(text, MEDIAWIKI, join(dir, "scenarios/wiki.yaml"));
    expect(c.s.services.web?.build).toBe(relative(join(dir, "scenarios"), join(ROOT, "scenarios/real/mediawiki")));
    expect(c.buildContexts).toEqual([{ service: "web", dir: join(ROOT, "scenarios/real/mediawiki") }]);
  });
});

// A plain web + worker + Redis + Postgres app: list-form env, depends_on with conditions, an anchor
// merged into two services, limits under deploy.
const SHOP = `
x-defaults: &defaults
  restart: on-failure:3
  logging:
    driver: json-file

services:
  app:
    <<: *defaults
    image: ghcr.io/acme/shop:1.4
    environment:
      - REDIS_URL=redis://redis:6379/0
      - DATABASE_URL=postgres://shop:\${DB_PASSWORD}@db:5432/shop
      - LOG_LEVEL=info
      - SECRET_KEY
    command: ["gunicorn", "-w", "4", "-b", "0.0.0.0:8000", "shop.wsgi"]
    ports:
      - target: 8000
        published: 8000
    depends_on:
      db:
        condition: service_healthy
      redis:
        condition: service_started
    deploy:
      replicas: 2
      resources:
        limits: { cpus: "0.5", memory: 512M }
        reservations: { memory: 256M }
    ulimits:
      nofile: { soft: 4096, hard: 8192 }
  worker:
    <<: *defaults
    image: ghcr.io/acme/shop:1.4
    command: celery -A shop worker --loglevel "info"
    environment:
      CELERY_BROKER: redis://redis:6379/1
    healthcheck:
      test: celery -A shop inspect ping
    depends_on: [redis]
  redis:
    image: redis:7-alpine
    command: redis-server --maxclients 200
  db:
    image: postgres:16-alpine
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: \${DB_PASSWORD:?set DB_PASSWORD}
      TZ: UTC
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U shop"]
      interval: 5s
    volumes:
      - ./initdb:/docker-entrypoint-initdb.d:ro
      - pgdata:/var/lib/postgresql/data
    mem_limit: 1g
    cpus: 1.5
volumes:
  pgdata: {}
`;

describe("a web + worker + Redis + Postgres app", () => {
  const r = convert(SHOP);

  it("maps env lists, depends_on maps, merged defaults, deploy limits and ulimits", () => {
    const { app, worker, redis, db } = r.s.services as Record<string, Obj>;
    expect(app).toEqual({
      kind: "image",
      image: "ghcr.io/acme/shop:1.4",
      command: ["gunicorn", "-w", "4", "-b", "0.0.0.0:8000", "shop.wsgi"],
      port: 8000,
      replicas: 2,
      cpus: 0.5,
      memory: "512m",
      ulimits: { nofile: 4096 },
      restart: "on-failure",
      env: {
        REDIS_URL: "redis://redis:6379/0",
        DATABASE_URL: `postgres://shop:${ref("DB_PASSWORD")}@db:5432/shop`, // read from the harness's env at creation
        LOG_LEVEL: "info",
        SECRET_KEY: ref("SECRET_KEY"), // a bare name: compose takes it from the shell
      },
    });
    expect(worker).toMatchObject({ command: ["celery", "-A", "shop", "worker", "--loglevel", "info"], restart: "on-failure" });
    expect(redis).toEqual({ kind: "redis" });
    // Postgres's role is Cascade's own (its samplers log in as it); the rest of the env is the user's.
    expect(db).toEqual({ kind: "postgres", cpus: 1.5, memory: "1g", env: { TZ: "UTC" } });
  });

  it("a worker with no port: a placeholder port, readiness by its own healthcheck command, and the port in what to fill in", () => {
    // compose's healthcheck runs in the container, as compose would run it (a CMD-SHELL string under sh -c)
    expect(r.s.services.worker).toMatchObject({ port: 80, ready: { command: "celery -A shop inspect ping" } });
    expect(r.next).toContain("services.worker.port: guessed 80; set the port worker listens on (and its ready: check)");
    expect(r.notes.find((n) => n.service === "worker" && n.text.includes("healthcheck"))).toBeUndefined();
  });

  it("links each service to what its env dials, once, and the load goes to the published web port", () => {
    expect(r.s.links).toEqual([
      { from: "app", to: "db" },
      { from: "app", to: "redis" },
      { from: "worker", to: "redis" },
    ]);
    expect(r.s.load.target).toBe("app");
  });

  it("notes what it cannot carry, each at its line", () => {
    const lines = SHOP.split("\n");
    const texts = r.notes.map((n) => `${n.service ?? "-"}@${lines[n.line - 1]?.trim()}: ${n.text}`);
    expect(texts).toEqual(
      expect.arrayContaining([
        "app@<<: *defaults: not carried over: logging",
        "app@deploy:: not carried over: deploy.resources.reservations",
        "redis@command: redis-server --maxclients 200: not carried over: command (redis-server --maxclients 200): Cascade starts redis with its own flags",
        "db@environment:: not carried over: env POSTGRES_USER, POSTGRES_PASSWORD (Cascade's postgres sets these for the role its samplers log in as)",
        "db@volumes:: not carried over: volumes (./initdb:/docker-entrypoint-initdb.d:ro, bind mount; pgdata:/var/lib/postgresql/data, named volume)",
        "-@volumes:: not carried over: top-level volumes (pgdata)",
      ]),
    );
    expect(block(r.text, "app")).toContain("# not carried over: deploy.resources.reservations, logging");
  });

  it("validates as written (what this branch's schema knows)", () => {
    for (const s of validateKnown(r.text).stripped) expect(s).toBe("redis (kind redis)");
  });
});

// HAProxy in front of a built API, and the keys a scenario has no field for.
const EDGE = `
name: Edge Stack
services:
  lb:
    image: haproxy:2.8
    ports: ["80:80"]
    volumes: ["./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"]
    depends_on: [api]
  api:
    build:
      context: ../src
      dockerfile: docker/Dockerfile
      args: ["VERSION=1.2", "DEBUG"]
      target: prod
    expose: ["3000"]
    entrypoint: /entry.sh
    env_file: .env
    networks: [back]
    secrets: [api_key]
    configs: [cfg]
    profiles: [full]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:3000/health"]
      start_period: 2m
    mem_limit: 256m
    cpus: 0.25
    deploy:
      replicas: 3
      placement: { constraints: ["node.role==worker"] }
      restart_policy: { condition: on-failure, max_attempts: 3 }
    environment:
      CACHE: cache_1:11211
      TOKEN: $API_TOKEN
  Cache_1:
    image: memcached:1.6-alpine
    command: ["-m", "64", "-c", "2048"]
secrets:
  api_key: { file: ./api_key.txt }
configs:
  cfg: { file: ./cfg.json }
`;

describe("HAProxy in front of a built service, with keys the scenario has no field for", () => {
  const r = convert(EDGE, "/srv/edge/compose.yaml", "/srv/edge/scenarios/edge.yaml");

  it("HAProxy balances the service it depends on, over a link Toxiproxy stays out of", () => {
    expect(r.s.name).toBe("edge-stack");
    expect(r.s.services.lb).toEqual({ kind: "haproxy", backend: "api", port: 80 });
    expect(r.s.links).toContainEqual({ from: "lb", to: "api", proxy: false });
    expect(r.s.load.target).toBe("lb");
  });

  it("a build object keeps its Dockerfile and args; the context is relative to the scenario", () => {
    expect(r.s.services.api).toMatchObject({
      kind: "image",
      image: "edge-stack-api",
      build: { context: "../../src", dockerfile: "docker/Dockerfile", args: { VERSION: "1.2" } },
      port: 3000,
      replicas: 3,
      cpus: 0.25,
      memory: "256m",
      restart: "on-failure",
      ready: { http: "/health", timeout: "210s" }, // start_period 2m + 3 retries × 30s (compose's defaults)
      env: { CACHE: "cache_1:11211", TOKEN: ref("API_TOKEN") },
    });
  });

  it("a name a scenario cannot use is renamed, and said so; links still find it by its host name", () => {
    expect(r.s.services["cache-1"]).toEqual({ kind: "memcached", connections: 2048 });
    expect(r.s.links).toContainEqual({ from: "api", to: "cache-1" });
    expect(r.notes.map((n) => n.text)).toContain(
      'renamed to "cache-1": the app\'s own references to "Cache_1" will not resolve in the run',
    );
  });

  it("lists every key it drops, in the YAML and as notes", () => {
    const comment = block(r.text, "api")
      .split("\n")
      .find((l) => l.includes("# not carried over:"));
    expect(comment).toBe(
      "    # not carried over: build.args DEBUG (no value: compose takes it from its shell), build.target, deploy.placement, deploy.restart_policy.max_attempts, entrypoint (/entry.sh), env_file (.env), networks (back), secrets (api_key), configs (cfg), profiles (full)",
    );
    expect(block(r.text, "lb")).toContain("# not carried over: volumes (./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro, bind mount)");
    expect(block(r.text, "cache-1")).toContain("command flags -m 64");
    expect(r.notes.filter((n) => n.service === undefined).map((n) => n.text)).toEqual([
      "not carried over: top-level secrets (api_key)",
      "not carried over: top-level configs (cfg)",
    ]);
    expect(r.notes.filter((n) => n.text.startsWith("not carried over")).length).toBe(14);
  });

  it("validates as written (what this branch's schema knows)", () => {
    for (const s of validateKnown(r.text).stripped) expect(s).toBe("api.build");
  });
});

describe("bad compose files: one line naming the file, and the line when known", () => {
  const fails = (text: string) => {
    try {
      convert(text, "dc.yml");
    } catch (e) {
      expect(e).toBeInstanceOf(ComposeInvalid);
      return (e as Error).message;
    }
    throw new Error("converted");
  };
  it.each([
    ["services:\n  web:\n    image: [a\n", /^dc\.yml:4: not YAML: /],
    ["", /^dc\.yml:1: the file is empty; no services/],
    ["version: '3'\nvolumes: {}\n", /^dc\.yml:1: no services: a compose file declares its containers under `services:`$/],
    ["name: x\nservices: {}\n", /^dc\.yml:2: no services/],
    ["- a\n- b\n", /^dc\.yml:1: no services/],
    ["services:\n  web:\n  db:\n    image: postgres\n", /^dc\.yml:2: services\.web is not a mapping/],
  ])("%j", (text, message) => {
    const m = fails(text);
    expect(m).toMatch(message);
    expect(m).not.toContain("\n");
  });
});

describe("pieces", () => {
  it("compose variables: defaults written in, the rest kept as references, an image with one left is to fill in", () => {
    const r = convert(
      `services:
  web:
    image: \${REGISTRY:-ghcr.io/acme}/web:\${TAG}
    ports: ['80']
    environment:
      - A=$$x
      - B=$HOME
      - C=\${C:?C must be set}
`,
    );
    expect(r.s.services.web).toMatchObject({ image: `ghcr.io/acme/web:${ref("TAG")}`, env: { A: "$x", B: ref("HOME"), C: ref("C") } });
    expect(r.next[0]).toBe(`services.web.image: ghcr.io/acme/web:${ref("TAG")} names variables; write the image itself`);
  });
  it("well-known images become built-in kinds; their exporters and tools stay images", () => {
    const kinds = Object.fromEntries(
      [
        "memcached:1.6-alpine",
        "docker.io/library/redis:7",
        "bitnami/postgresql:16",
        "postgres@sha256:0123",
        "mysql:8",
        "mariadb:11",
        "haproxytech/haproxy-alpine:2.8",
        "prom/memcached-exporter",
        "prometheuscommunity/postgres-exporter",
        "rediscommander/redis-commander",
        "registry:5000/team/haproxy-config-builder:1",
      ].map((image) => [image, convert(`services:\n  s:\n    image: "${image}"\n    ports: ["80"]\n`).s.services.s?.kind]),
    );
    expect(kinds).toEqual({
      "memcached:1.6-alpine": "memcached",
      "docker.io/library/redis:7": "redis",
      "bitnami/postgresql:16": "postgres",
      "postgres@sha256:0123": "postgres",
      "mysql:8": "mariadb",
      "mariadb:11": "mariadb",
      "haproxytech/haproxy-alpine:2.8": "haproxy",
      "prom/memcached-exporter": "image",
      "prometheuscommunity/postgres-exporter": "image",
      "rediscommander/redis-commander": "image",
      "registry:5000/team/haproxy-config-builder:1": "image",
    });
  });
  it("the built-in kinds' ports are their defaults in the topology plan", () => {
    for (const k of KNOWN_IMAGES)
      if (k.kind in DEFAULT_PORT) expect(k.port, k.kind).toBe(DEFAULT_PORT[k.kind as keyof typeof DEFAULT_PORT]);
  });
  it("a healthcheck the HTTP check cannot ask (HTTPS, another port, a command) runs in the container as compose's command", () => {
    const svc = (test: string) =>
      convert(`services:\n  api:\n    image: acme/api\n    expose: [3000]\n    healthcheck:\n      test: ${test}\n`).s.services.api;
    expect(svc(`["CMD", "curl", "-f", "http://localhost:3000/ok"]`)?.ready).toEqual({ http: "/ok", timeout: "90s" }); // compose defaults: 3 retries × 30s
    expect(svc("wget -q --spider http://127.0.0.1:3000/"), "a shell string").toMatchObject({ ready: { http: "/" } });
    expect(svc(`["CMD", "curl", "-f", "http://localhost/ok"]`)?.ready, "no port: 80").toEqual({
      command: ["curl", "-f", "http://localhost/ok"],
      timeout: "90s",
    });
    expect(svc(`["CMD-SHELL", "curl -fk https://localhost:3000/ok || exit 1"]`)?.ready).toEqual({
      command: "curl -fk https://localhost:3000/ok || exit 1",
      timeout: "90s",
    });
    const r = convert(`services:\n  api:\n    image: acme/api\n    expose: [3000]\n    healthcheck:\n      test: ["CMD", "/bin/check"]\n`);
    expect(r.s.services.api?.ready).toEqual({ command: ["/bin/check"], timeout: "90s" });
    expect(r.text).toContain("ready: { command: [/bin/check], timeout: 90s }  # healthcheck: /bin/check");
    expect(r.notes.filter((n) => n.text.includes("healthcheck"))).toEqual([]);
  });
  it("env values and commands of any shape read back as they were", () => {
    const nasty = [
      "a: b",
      "# not a comment",
      "*star",
      "&amp",
      "!tag",
      "@at",
      "`tick`",
      "- dash",
      "[x]",
      "{y}",
      "'q'",
      '"dq"',
      "line\nbreak",
      "tab\tin",
      " lead",
      "trail ",
      "true",
      "null",
      "0x1F",
      "1e3",
      "~",
      "%p",
      "é ☃ 🐙",
      "",
    ];
    const env = Object.fromEntries(nasty.map((v, i) => [`K${i}`, v]));
    const compose = stringify({ services: { web: { image: "acme/web", ports: ["80"], environment: env, command: nasty } } });
    const r = convert(compose);
    expect(r.s.services.web?.env).toEqual(env);
    expect(r.s.services.web?.command).toEqual(nasty);
    validateKnown(r.text);
  });
  it("a string command splits like a shell line", () => {
    expect(splitCommand(`sh -c 'echo "hi there"' --x="a b" c\\ d ""`)).toEqual(["sh", "-c", 'echo "hi there"', "--x=a b", "c d", ""]);
  });
});

const PLAIN = `services:
  web:
    image: nginx:1.25
    ports: ["8080:80"]
    depends_on: [db]
    environment: { DB_HOST: db }
  db:
    image: postgres:16
    volumes: [pgdata:/var/lib/postgresql/data]
volumes: { pgdata: {} }
`;

const cli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [join(ROOT, "bin/cascade.js"), ...args], { timeout: 60_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe("cascade init", () => {
  it("writes a scenario `validate` accepts, refuses to overwrite it, and overwrites with --force", async () => {
    const dir = tmp();
    const compose = join(dir, "docker-compose.yml");
    writeFileSync(compose, PLAIN);
    const out = join(dir, "cascade.yaml");
    const first = await cli("init", "--from", compose);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`wrote ${out}: 2 service(s) (web, db), 1 link(s) (web->db), load on web\n`);
    expect(first.stdout).toContain("fill in next:\n  load: ");
    expect(first.stderr).toBe(
      [
        `${compose}:9: db: not carried over: volumes (pgdata:/var/lib/postgresql/data, named volume)`,
        `${compose}:10: not carried over: top-level volumes (pgdata)`,
        "",
      ].join("\n"),
    );
    expect((await cli("validate", out)).code).toBe(0);

    writeFileSync(out, "# mine\n");
    const again = await cli("init", "--from", compose);
    expect(again).toMatchObject({ code: 64, stdout: "" });
    expect(again.stderr).toBe(`${out} exists; --force overwrites it, or --out names another file\n`);
    expect(readFileSync(out, "utf8")).toBe("# mine\n");
    expect((await cli("init", "--from", compose, "--force")).code).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("kind: postgres");
  }, 60_000);

  it("a file that is not compose, or not there: exit 2, one line; no --from: exit 64", async () => {
    const dir = tmp();
    const bad = join(dir, "dc.yml");
    writeFileSync(bad, "services:\n  web: {image: x\n");
    const r = await cli("init", "--from", bad, "--out", join(dir, "o.yaml"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${bad}:3: not YAML: [^\\n]+\\n$`));
    const missing = await cli("init", "--from", join(dir, "nope.yml"));
    expect(missing).toMatchObject({ code: 2, stderr: `${join(dir, "nope.yml")}: file not found\n` });
    expect((await cli("init")).code).toBe(64);
    const itself = await cli("init", "--from", bad, "--out", bad, "--force");
    expect(itself).toMatchObject({ code: 64, stderr: `${bad} is the compose file itself; --out names where the scenario goes\n` });
  }, 60_000);
});
