// The game day's own logic, without Docker: who may drive the page (token, origin, host), what an
// action needs before the topology is up, and the session as a scenario that replays it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asPlayed, playedPhases } from "../../src/gameday/export.js";
import { serveGameDay, type GameDayServer } from "../../src/gameday/server.js";
import { GameDay } from "../../src/gameday/session.js";
import { needsNodes } from "../../src/faults/registry.js";
import type { FaultEvent } from "../../src/faults/scheduler.js";
import { ROOT } from "../../src/paths.js";
import { parseScenario } from "../../src/scenario/load.js";
import { Fault } from "../../src/scenario/schema.js";

const FILE = join(ROOT, "test/fixtures/scenarios/gameday.yaml");
const source = readFileSync(FILE, "utf8");
const scenario = parseScenario(source, FILE);

describe("game day page: who may drive it", () => {
  let server: GameDayServer;
  beforeAll(async () => {
    server = await serveGameDay(new GameDay(scenario, source, { horizonMs: 60_000, file: FILE }));
  });
  afterAll(() => server.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.origin}${path}`, { headers });

  it("prints a URL on 127.0.0.1 with a 128-bit token", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
  });

  it("serves the page, its scripts and its state with the token", async () => {
    const page = await get(`/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain(`content="${server.token}"`);
    expect(html).not.toContain("__TOKEN__");
    const js = await get(`/vendor/vega-embed.js?token=${server.token}`);
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(1000);
    const state = await (await get(`/api/state?token=${server.token}`)).json();
    expect(state.scenario).toBe("gameday");
    expect(state.links).toEqual(["app->cache", "app->db"]);
    expect(state.services.map((s: { name: string }) => s.name)).toEqual(["lb", "app", "cache", "db"]);
    // every fault kind gets a form, but those that act on a cluster's nodes (one engine has none)
    const kinds = state.fault_schema.oneOf.map((k: { properties: { kind: { const: string } } }) => k.properties.kind.const);
    expect(kinds).toHaveLength(20);
    expect(kinds).not.toContain("node");
    expect(kinds.filter(needsNodes)).toEqual([]);
  });

  it("refuses a request without the token, or with a wrong one (403)", async () => {
    for (const path of ["/", "/page.js", "/api/state", "/events", "/vendor/vega.js", `/?token=${"0".repeat(32)}`, "/?token=short"]) {
      const r = await get(path);
      expect(r.status, path).toBe(403);
      expect(await r.text()).toMatch(/refused/);
    }
    const post = await fetch(`${server.origin}/api/action`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: "halt", by: "mallory" }),
    });
    expect(post.status).toBe(403);
  });

  it("refuses another origin, another Host and cross-site requests, even with the token (403)", async () => {
    const t = `?token=${server.token}`;
    expect((await get(`/${t}`, { origin: "http://evil.example" })).status).toBe(403);
    expect((await get(`/${t}`, { origin: `http://localhost:${server.port}` })).status).toBe(403);
    expect((await get(`/${t}`, { "sec-fetch-site": "cross-site" })).status).toBe(403);
    const post = await fetch(`${server.origin}/api/action`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-cascade-token": server.token, origin: "http://evil.example" },
      body: JSON.stringify({ action: "halt", by: "mallory" }),
    });
    expect(post.status).toBe(403);
    // DNS rebinding: a name that resolves to 127.0.0.1 is still another Host
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: server.port, path: `/${t}`, headers: { host: "rebind.example" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(403);
    // the page's own origin is fine
    expect((await get(`/${t}`, { origin: server.origin })).status).toBe(200);
  });

  it("takes actions as JSON only, and says why one is refused", async () => {
    const form = await fetch(`${server.origin}/api/action?token=${server.token}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "action=halt&by=x",
    });
    expect(form.status).toBe(415);
    const act = (body: object) =>
      fetch(`${server.origin}/api/action`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-cascade-token": server.token },
        body: JSON.stringify(body),
      });
    const early = await act({ action: "halt", by: "ann" });
    expect(early.status).toBe(409);
    expect((await early.json()).error).toMatch(/still coming up/);
    const bad = await act({ action: "rate", by: "ann", rate: -1 });
    expect(bad.status).toBe(400);
  });
});

describe("fault kinds that need cluster nodes", () => {
  it("is the node kind alone, by its module's property; no kind for a string that is none", () => {
    const kinds = Fault.options.map((o) => o.shape.kind.value);
    expect(kinds.filter(needsNodes)).toEqual(["node"]);
    expect(needsNodes("toString")).toBe(false);
  });
});

describe("the game day as a scenario that replays it", () => {
  const ev = (action: FaultEvent["action"], fault: string, kind: FaultEvent["kind"], ms: number): FaultEvent => ({
    type: "fault",
    action,
    fault,
    kind,
    time: "",
    planned_ms: ms,
    actual_ms: ms,
    lag_ms: 0,
    took_ms: 5,
    by: "ann",
  });

  it("writes the load as applied and each fault at its time for as long as it lasted; it validates", () => {
    const played = asPlayed({
      source,
      scenario,
      events: [
        ev("apply", "slow-cache", "latency", 5_123.4),
        ev("apply", "kill-cache", "kill", 9_000),
        ev("revert", "slow-cache", "latency", 12_456),
        ev("error", "bad", "latency", 13_000),
        // a halt: the load stopped at 15 543 ms, the revert landed just after
        ev("apply", "slow-db", "latency", 14_000),
        ev("revert", "slow-db", "latency", 15_560),
        // applied after the load ended: not part of a replay
        ev("apply", "late", "kill", 15_600),
      ],
      inputs: new Map<string, Record<string, unknown>>([
        ["slow-cache", { kind: "latency", link: "app->cache", latency: "150ms", name: "slow-cache" }],
        ["kill-cache", { kind: "kill", service: "cache", name: "kill-cache" }],
        ["slow-db", { kind: "latency", link: "app->db", latency: "1s", duration: "30s" }],
        ["late", { kind: "kill", service: "db" }],
      ]),
      phases: [
        { duration: 4_000, rate: 35 },
        { duration: 3_000.4, rate: 50 },
        { duration: 2_000, rate: 50 },
        { duration: 0.2, rate: 10 },
        { duration: 6_543, rate: 20 },
      ],
      heading: "Game day, as played.",
      file: "played.yaml",
    });
    expect(played.scenario.load.phases).toEqual([
      { duration: 4_000, rate: 35 },
      { duration: 5_000, rate: 50 },
      { duration: 6_543, rate: 20 },
    ]);
    expect(played.scenario.faults).toEqual([
      expect.objectContaining({ name: "slow-cache", at: 5_123, kind: "latency", link: "app->cache", latency: 150, duration: 7_333 }),
      expect.objectContaining({ name: "kill-cache", at: 9_000, kind: "kill", service: "cache" }),
      expect.objectContaining({ name: "slow-db", at: 14_000, kind: "latency", latency: 1_000, duration: 1_543 }),
    ]);
    expect(played.scenario.faults[1]).not.toHaveProperty("duration");
    expect(played.scenario.description).toMatch(/^Game day, as played\. The foundation topology/);
    // the rest of the file is kept as written, comments included
    expect(played.source).toContain("# Game-day fixture");
    expect(played.source).toContain("slo: { availability: 99% }");
  });

  it("refuses to export a session with no load", () => {
    expect(playedPhases([{ duration: 0.3, rate: 5 }]).phases).toEqual([]);
    expect(() => asPlayed({ source, scenario, events: [], inputs: new Map(), phases: [], heading: "x", file: "x.yaml" })).toThrow(
      /no load/,
    );
  });
});
