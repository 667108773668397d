import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario, parseScenario } from "../../src/scenario/load.js";
import type { Link } from "../../src/scenario/schema.js";
import { notByName, planTopology, startOrder } from "../../src/topology/plan.js";
import { ROOT } from "../../src/paths.js";

const example = join(ROOT, "scenarios/cache-kill.yaml");

describe("planTopology", async () => {
  const { scenario } = await loadScenario(example);
  const plan = planTopology(scenario);

  it("starts Toxiproxy first and every service after what it links to", () => {
    expect(plan.containers.map((c) => c.host)).toEqual(["toxiproxy-1", "cache-1", "db-1", "app-1", "app-2", "lb-1"]);
    expect(startOrder(scenario)).toEqual(["cache", "db", "app", "lb"]);
  });

  it("routes proxied links through Toxiproxy, answering on the dependency's own name, and direct links straight to the service", () => {
    expect(plan.proxies).toEqual([
      { name: "app__cache", link: "app->cache", listen: "0.0.0.0:11211", upstream: "cache-origin:11211" },
      { name: "app__db", link: "app->db", listen: "0.0.0.0:5432", upstream: "db-origin:5432" },
    ]);
    // the names the app would dial from its own config are Toxiproxy's; the dependency keeps another
    expect(plan.containers.find((c) => c.host === "toxiproxy-1")?.aliases).toEqual(["toxiproxy-1", "toxiproxy", "cache", "db"]);
    expect(plan.containers.find((c) => c.host === "cache-1")?.aliases).toEqual(["cache-1", "cache-origin"]);
    expect(plan.containers.find((c) => c.host === "app-2")?.aliases).toEqual(["app-2", "app"]);
    const app = plan.containers.find((c) => c.host === "app-1");
    expect(app?.env.CACHE_ADDR).toBe("cache:11211");
    expect(app?.env.DATABASE_URL).toBe("postgres://cascade@db:5432/cascade");
    expect(app?.env.CASCADE_APP_CONFIG).toBe(JSON.stringify({ keys: 10, cacheTimeoutMs: 200, dbQueryTimeoutMs: 10000, dbQueryCpuMs: 8 }));
    expect(plan.containers.find((c) => c.host === "lb-1")?.env.APP_ADDR).toBe("app:8080");
  });

  it("applies limits and gives memcached the file descriptors its -c needs", () => {
    const cache = plan.containers.find((c) => c.service === "cache");
    expect(cache?.cmd).toEqual(["-c", "1024", "-m", "51", "-p", "11211"]);
    expect(cache?.ulimits.nofile).toBe(1088);
    expect(cache?.memory).toBe(64 * 2 ** 20);
    const db = plan.containers.find((c) => c.service === "db");
    expect(db?.cpus).toBe(0.5);
  });

  it("writes an HAProxy config with one health-checked server per replica", () => {
    const cfg = plan.containers.find((c) => c.service === "lb")?.env.HAPROXY_CFG ?? "";
    expect(cfg).toMatch(/server app-1 app-1:8080 check/);
    expect(cfg).toMatch(/server app-2 app-2:8080 check/);
    expect(cfg).toMatch(/timeout server 2000ms/);
    expect(cfg).toMatch(/option httpchk GET \/health/);
    expect(plan.target).toEqual({ service: "lb", port: 8000 });
  });

  it("writes the HAProxy config of a service without lb exactly as before lb existed", () => {
    // Written down from haproxyConfig's output before the lb policy was added.
    const before = [
      "global",
      "  maxconn 8000",
      "resolvers docker",
      "  nameserver dns 127.0.0.11:53",
      "  hold valid 1s",
      "defaults",
      "  mode http",
      "  option httplog",
      "  timeout connect 2s",
      "  timeout client 60s",
      "  timeout server 2000ms",
      "  timeout queue 2000ms",
      "frontend fe",
      "  bind :8000",
      "  monitor-uri /haproxy-health",
      "  default_backend be",
      "backend be",
      "  balance roundrobin",
      "  option httpchk GET /health",
      "  server app-1 app-1:8080 check inter 1s fall 2 rise 2 resolvers docker init-addr last,libc,none",
      "  server app-2 app-2:8080 check inter 1s fall 2 rise 2 resolvers docker init-addr last,libc,none",
      "listen stats",
      "  bind :8404",
      "  stats enable",
      "  stats uri /stats",
      "",
    ].join("\n");
    expect(scenario.services.lb?.lb).toBeUndefined();
    expect(plan.containers.find((c) => c.service === "lb")?.env.HAPROXY_CFG).toBe(before);
  });
});

/** An HAProxy config split into its sections: the header line → the lines under it. */
function sections(cfg: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let current: string[] = [];
  for (const line of cfg.split("\n").filter((l) => l !== "")) {
    if (line.startsWith(" ")) current.push(line.trim());
    else out[line] = current = [];
  }
  return out;
}

describe("haproxyConfig with an lb policy", () => {
  const cfgOf = (lb: string, backend = "{ kind: app, replicas: 3 }") => {
    const s = parseScenario(
      [
        "name: lb-policy",
        "services:",
        `  lb: { kind: haproxy, backend: app, timeout: 2s, lb: ${lb} }`,
        `  app: ${backend}`,
        "load: { target: lb, phases: [{ duration: 10s, rate: 10 }] }",
        "",
      ].join("\n"),
      "lb-policy.yaml",
    );
    return sections(planTopology(s).containers.find((c) => c.service === "lb")?.env.HAPROXY_CFG ?? "");
  };

  it("puts retries, redispatch and retry-on in the backend, and maxconn and check timing on every server", () => {
    const cfg = cfgOf(
      "{ retries: 2, redispatch: true, retryOn: [conn-failure, empty-response, 503, '504'], maxconn: 25, queueTimeout: 500ms, check: { interval: 1.5s, rise: 3, fall: 4, timeout: 4s } }",
    );
    expect(Object.keys(cfg)).toEqual(["global", "resolvers docker", "defaults", "frontend fe", "backend be", "listen stats"]);
    expect(cfg.defaults).toEqual([
      "mode http",
      "option httplog",
      "timeout connect 2s",
      "timeout client 60s",
      "timeout server 2000ms",
      "timeout queue 500ms",
    ]);
    expect(cfg["backend be"]).toEqual([
      "balance roundrobin",
      "retries 2",
      "option redispatch",
      "retry-on conn-failure empty-response 503 504",
      "option httpchk GET /health",
      "timeout check 4000ms",
      ...[1, 2, 3].map(
        (i) => `server app-${i} app-${i}:8080 check inter 1500ms fall 4 rise 3 maxconn 25 resolvers docker init-addr last,libc,none`,
      ),
    ]);
    // nothing of the policy leaks into the other sections
    expect(cfg.global).toEqual(["maxconn 8000"]);
    expect(cfg["frontend fe"]).toEqual(["bind :8000", "monitor-uri /haproxy-health", "default_backend be"]);
  });

  it("keeps today's defaults for what the policy leaves out", () => {
    const cfg = cfgOf("{ retries: 0 }");
    expect(cfg.defaults).toContain("timeout queue 2000ms");
    expect(cfg["backend be"]).toEqual([
      "balance roundrobin",
      "retries 0",
      "option httpchk GET /health",
      ...[1, 2, 3].map((i) => `server app-${i} app-${i}:8080 check inter 1s fall 2 rise 2 resolvers docker init-addr last,libc,none`),
    ]);
  });

  it("sets maxconn on the servers of a backend with no health path, which are not checked", () => {
    const cfg = cfgOf("{ maxconn: 5 }", "{ kind: image, image: web:1, port: 9000 }");
    expect(cfg["backend be"]).toEqual([
      "balance roundrobin",
      "server app-1 app-1:9000 maxconn 5 resolvers docker init-addr last,libc,none",
    ]);
  });
});

describe("proxied links that keep the dependency's name", () => {
  const scenario = (links: string, extra = "") =>
    parseScenario(
      `name: t
services:
  web: { kind: image, image: "example/web:1", port: 80 }
  worker: { kind: image, image: "example/worker:1", port: 81 }
  db: { kind: postgres }
  db2: { kind: postgres }
${extra}links:
${links}
load: { target: web, phases: [{ duration: 5s, rate: 1 }] }
`,
      "t.yaml",
    );

  it("a dependency two services reach keeps its name; each link has its own numbered proxy", () => {
    const s = scenario("  - { from: web, to: db }\n  - { from: worker, to: db }\n");
    const plan = planTopology(s);
    expect(plan.proxies.map((p) => [p.listen, p.upstream])).toEqual([
      ["0.0.0.0:20000", "db:5432"],
      ["0.0.0.0:20001", "db:5432"],
    ]);
    expect(plan.containers.find((c) => c.host === "db-1")?.aliases).toEqual(["db-1", "db"]);
    expect(plan.containers.find((c) => c.host === "web-1")?.env.DB_ADDR).toBe("toxiproxy:20000");
    expect(notByName(s, s.links[0] as Link)).toMatch(/2 links reach db/);
  });

  it("two dependencies on one port: the first takes its name, the second is reached at its _ADDR", () => {
    const s = scenario("  - { from: web, to: db }\n  - { from: worker, to: db2 }\n");
    const plan = planTopology(s);
    expect(plan.proxies.map((p) => [p.listen, p.upstream])).toEqual([
      ["0.0.0.0:5432", "db-origin:5432"],
      ["0.0.0.0:20001", "db2:5432"],
    ]);
    expect(plan.containers.find((c) => c.host === "worker-1")?.env.DB2_ADDR).toBe("toxiproxy:20001");
    expect(notByName(s, s.links[1] as Link)).toMatch(/port 5432 is taken/);
  });

  it("a user image linked to Postgres is given the run's password by name only", () => {
    const plan = planTopology(scenario("  - { from: web, to: db }\n"));
    expect(plan.containers.find((c) => c.host === "web-1")?.secretEnv).toEqual(["PGPASSWORD"]);
    expect(plan.containers.find((c) => c.host === "worker-1")?.secretEnv).toBeUndefined();
    const both = planTopology(
      parseScenario(
        `name: t\nservices:\n  web: { kind: image, image: "w:1", port: 80 }\n  pg: { kind: postgres }\n  my: { kind: mariadb }\nlinks:\n  - { from: web, to: pg }\n  - { from: web, to: my }\nload: { target: web, phases: [{ duration: 1s, rate: 1 }] }\n`,
        "t.yaml",
      ),
    );
    expect(both.containers.find((c) => c.host === "web-1")?.secretEnv).toEqual(["PGPASSWORD", "MYSQL_PWD"]);
    expect(JSON.stringify(plan)).not.toMatch(/PGPASSWORD=/);
  });
});
