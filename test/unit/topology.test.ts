import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario, parseScenario } from "../../src/scenario/load.js";
import { planTopology, startOrder } from "../../src/topology/plan.js";
import { ROOT } from "../../src/paths.js";

const example = join(ROOT, "scenarios/cache-kill.yaml");

describe("planTopology", async () => {
  const { scenario } = await loadScenario(example);
  const plan = planTopology(scenario);

  it("starts Toxiproxy first and every service after what it links to", () => {
    expect(plan.containers.map((c) => c.host)).toEqual(["toxiproxy-1", "cache-1", "db-1", "app-1", "app-2", "lb-1"]);
    expect(startOrder(scenario)).toEqual(["cache", "db", "app", "lb"]);
  });

  it("routes proxied links through Toxiproxy and direct links straight to the service", () => {
    expect(plan.proxies).toEqual([
      { name: "app__cache", link: "app->cache", listen: "0.0.0.0:20001", upstream: "cache:11211" },
      { name: "app__db", link: "app->db", listen: "0.0.0.0:20002", upstream: "db:5432" },
    ]);
    const app = plan.containers.find((c) => c.host === "app-1");
    expect(app?.env.CACHE_ADDR).toBe("toxiproxy:20001");
    expect(app?.env.DATABASE_URL).toBe("postgres://cascade@toxiproxy:20002/cascade");
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
      "{ retries: 2, redispatch: true, retryOn: [conn-failure, empty-response, 503, '504'], maxconn: 25, queueTimeout: 500ms, check: { interval: 1.5s, rise: 3, fall: 4 } }",
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
