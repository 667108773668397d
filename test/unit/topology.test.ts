import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../../src/scenario/load.js";
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
});
