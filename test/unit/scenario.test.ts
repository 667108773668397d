import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  formatIssues,
  loadScenario,
  MAX_ISSUES,
  MAX_SCENARIO_BYTES,
  parseScenario,
  type ScenarioIssue,
  ScenarioInvalid,
  scenarioJsonSchema,
} from "../../src/scenario/load.js";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/scenarios/${name}`, import.meta.url));

/** The issues parseScenario throws for `text`; fails the test if it parses. */
function issuesOf(text: string, file = "s.yaml"): ScenarioIssue[] {
  try {
    parseScenario(text, file);
  } catch (e) {
    if (e instanceof ScenarioInvalid) return e.issues;
    throw e;
  }
  throw new Error("expected the scenario to be invalid");
}

const brief = (issues: ScenarioIssue[]) => issues.map((i) => `${i.line}:${i.col} ${i.field}: ${i.message}`);

// A valid scenario assembled from sections, so each test swaps the one section it is about.
// Line numbers: name 1, services 2-6, links 7-10, load 11-15, faults from 16.
const SERVICES = `services:
  lb: { kind: haproxy, backend: app }
  app: { kind: app, replicas: 2 }
  cache: { kind: memcached }
  db: { kind: postgres }`;
const LINKS = `links:
  - { from: lb, to: app, proxy: false }
  - { from: app, to: cache }
  - { from: app, to: db }`;
const LOAD = `load:
  target: lb
  phases:
    - { duration: 10s, rate: 50 }
    - { duration: 50s, rate: 100 }`;
function scenario(parts: { services?: string; links?: string; load?: string; faults?: string[] } = {}): string {
  const faults = parts.faults ? `faults:\n${parts.faults.map((f) => `  - ${f}`).join("\n")}` : "faults: []";
  return ["name: t", parts.services ?? SERVICES, parts.links ?? LINKS, parts.load ?? LOAD, faults, ""].join("\n");
}

describe("valid scenario", () => {
  it("parses the full example with defaults and units applied", async () => {
    const { scenario: s, source } = await loadScenario(fixture("valid.yaml"));
    expect(source).toContain("name: cache-kill");
    expect(s.name).toBe("cache-kill");
    expect(s.services.lb).toMatchObject({ kind: "haproxy", backend: "app", timeout: 2000, replicas: 1, restart: "no" });
    expect(s.services.app).toMatchObject({ replicas: 2, memory: 268435456, cpus: 0.5, env: {}, ulimits: {} });
    expect(s.services.cache).toMatchObject({ connections: 1024, memory: 67108864 });
    expect(s.links).toEqual([
      { from: "lb", to: "app", proxy: false },
      { from: "app", to: "cache", proxy: true },
      { from: "app", to: "db", proxy: true },
    ]);
    expect(s.load).toEqual({
      target: "lb",
      path: "/",
      method: "GET",
      timeout: 2000,
      connections: 100,
      generators: 1,
      phases: [
        { duration: 10000, rate: 50 },
        { duration: 50000, rate: 100 },
      ],
    });
    expect(s.faults[0]).toEqual({
      at: 10000,
      kind: "latency",
      link: "app->cache",
      latency: 100,
      jitter: 0,
      direction: "downstream",
      toxicity: 1,
      duration: 5000,
    });
    expect(s.faults[1]).toEqual({ at: 20000, kind: "kill", service: "cache", signal: "SIGKILL" });
    expect(s.faults[2]).toEqual({ at: 35000, kind: "start", service: "cache" });
    expect(s.slo).toEqual({ availability: 0.99, p99: 500 });
  });

  it("locates its fields from the document it read: a field, an item, and a defaulted key at its parent", async () => {
    const { locate } = await loadScenario(fixture("valid.yaml"));
    expect(locate(["services", "app", "replicas"])).toEqual({ line: 5, col: 31 });
    expect(locate(["faults", 1, "kind"]).line).toBe(21);
    expect(locate(["load", "timeout"]).line).toBe(15);
    // generators is not written: its nearest ancestor, load's value
    expect(locate(["load", "generators"]).line).toBe(13);
  });

  it("accepts the section template used by the tests below", () => {
    expect(parseScenario(scenario(), "t.yaml").services.app?.replicas).toBe(2);
  });
});

describe("reporting every problem", () => {
  it("returns all schema and reference problems with exact positions", async () => {
    const file = fixture("many-errors.yaml");
    const err = await loadScenario(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioInvalid);
    const issues = (err as ScenarioInvalid).issues;
    expect(issues.map(({ line, col, field }) => ({ line, col, field }))).toEqual([
      { line: 5, col: 15, field: "services.app.replicas" }, // wrong type
      { line: 10, col: 22, field: "links[1].to" }, // unknown service
      { line: 14, col: 30, field: "load.phases[0].rate" }, // negative
      { line: 19, col: 5, field: "faults[0].colour" }, // unknown key: the key itself
    ]);
    expect(issues.every((i) => i.file === file)).toBe(true);
    expect(issues[0]?.message).toBe('expected a number, got "two"');
    expect(issues[1]?.message).toBe('unknown service "redis" (declared: app, cache)');
    expect(issues[2]?.message).toBe("must be at least 0 (got -5)");
    expect(issues[3]?.message).toBe('unknown field "colour"');
  });

  it("points a missing key at its nearest existing parent", () => {
    const issues = issuesOf("name: x\nservices:\n  a: { kind: app }\nload:\n  phases:\n    - { rate: 1 }\n");
    expect(brief(issues)).toEqual([
      "5:3 load.target: missing; expected a string",
      "6:7 load.phases[0].duration: missing; expected a number or a string",
    ]);
  });

  it("names unknown kinds and lists the valid ones", () => {
    const services = SERVICES.replace("kind: memcached", "kind: valkey");
    const issues = issuesOf(scenario({ services, faults: ["{ at: 1s, kind: boom }"] }));
    expect(brief(issues)).toEqual([
      '5:18 services.cache.kind: unknown kind "valkey"; valid kinds: memcached, redis, postgres, mariadb, haproxy, app, image',
      '17:21 faults[0].kind: unknown kind "boom"; valid kinds: kill, stop, start, restart, pause, host-down, crashloop, node, latency, bandwidth, timeout, reset_peer, slow_close, slicer, limit_data, partition, ulimit, resources, memory-hog, cpu-stress, app',
    ]);
  });

  it("points an invalid service name at the key", () => {
    const issues = issuesOf(scenario({ services: `${SERVICES}\n  Web: { kind: app }` }));
    expect(brief(issues)).toEqual([
      `7:3 services.Web: invalid name "Web": service names are lower-case letters, digits and '-', starting with a letter`,
    ]);
  });

  it("formats one sorted line per issue", () => {
    const line = (n: number): ScenarioIssue => ({ file: "f.yaml", line: n, col: 3, field: `x${n}`, message: `m${n}` });
    expect(formatIssues([line(9), line(2)])).toBe("f.yaml:2:3  x2  m2\nf.yaml:9:3  x9  m9");
    expect(new ScenarioInvalid([line(4)]).message).toBe("f.yaml:4:3  x4  m4");
  });
});

describe("YAML problems", () => {
  it("reports syntax errors with line:col and nothing else", async () => {
    const err = (await loadScenario(fixture("bad-syntax.yaml.txt")).catch((e: unknown) => e)) as ScenarioInvalid;
    expect(err).toBeInstanceOf(ScenarioInvalid);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ line: 4, col: 1, field: "(syntax)" });
    expect(err.issues[0]?.message).toMatch(/Flow map/);
  });

  it("reports every syntax error, including duplicate keys and unknown aliases", () => {
    expect(brief(issuesOf("name: a\nname: b\nservices: *none\n"))).toEqual([
      '2:1 (syntax): Map keys must be unique: "name" appears twice',
      "3:11 (syntax): unknown alias *none",
    ]);
  });

  it("a mapping as a key is a located problem, not yaml's own warning on stderr", () => {
    expect(brief(issuesOf("name: a\n? { faults: [1] }\n: x\n"))).toEqual([
      "2:3 (syntax): a key must be a plain name, not a mapping or a list",
    ]);
  });

  it("finds a duplicate key among 40k in linear time, at its second use", () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: ${i}`);
    keys.splice(30_000, 0, "  k7: again");
    // CPU time, not wall time: a busy CI runner stretches the clock, not the work. yaml's own
    // check compares each key with every earlier one: 15.6 s for 40k keys; linear is ~1.3 s.
    const c0 = process.cpuUsage();
    const issues = issuesOf(`name: a\nextra:\n${keys.join("\n")}\n`);
    const used = process.cpuUsage(c0);
    expect((used.user + used.system) / 1000).toBeLessThan(6000);
    expect(brief(issues)).toEqual(['30003:3 (syntax): Map keys must be unique: "k7" appears twice']);
  });

  it.each([
    ["an empty file", "", "the file is empty"],
    ["only comments", "# todo\n", "the file is empty"],
    ["a scalar", "hello\n", 'must be a mapping with name, services and load, got "hello"'],
    ["a list", "- a\n", "got a list"],
  ])("turns %s into an issue at 1:1", (_, text, message) => {
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 1, col: 1, field: "(root)" });
    expect(issues[0]?.message).toContain(message);
  });

  it("reports a missing file at 1:1", async () => {
    const file = fixture("does-not-exist.yaml");
    await expect(loadScenario(file)).rejects.toMatchObject({
      issues: [{ file, line: 1, col: 1, field: "(file)", message: "file not found" }],
    });
  });
});

describe("semantic checks", () => {
  it("link endpoints must be declared services", () => {
    const issues = issuesOf(scenario({ links: "links:\n  - { from: web, to: app }" }));
    expect(brief(issues)).toEqual(['8:13 links[0].from: unknown service "web" (declared: lb, app, cache, db)']);
  });

  it("a link cannot point at its own source", () => {
    expect(brief(issuesOf(scenario({ links: "links:\n  - { from: app, to: app }" })))).toEqual([
      '8:22 links[0].to: a link cannot go from "app" to itself',
    ]);
  });

  it("links must not be declared twice", () => {
    expect(brief(issuesOf(scenario({ links: `${LINKS}\n  - { from: app, to: cache, proxy: true }` })))).toEqual([
      "11:5 links[3]: duplicates links[1] (app->cache)",
    ]);
  });

  it("load.target must be a declared service", () => {
    expect(brief(issuesOf(scenario({ load: LOAD.replace("target: lb", "target: web") })))).toEqual([
      '12:11 load.target: unknown service "web" (declared: lb, app, cache, db)',
    ]);
  });

  it("load.generators: a whole number from 1 to 16, at most one per connection; default 1", () => {
    const withGen = (v: string, extra = "") => scenario({ load: LOAD.replace("target: lb", `target: lb\n  generators: ${v}${extra}`) });
    expect(parseScenario(scenario(), "s.yaml").load.generators).toBe(1);
    expect(parseScenario(withGen("4"), "s.yaml").load.generators).toBe(4);
    expect(brief(issuesOf(withGen("0")))).toEqual(["13:15 load.generators: must be at least 1 (got 0)"]);
    expect(brief(issuesOf(withGen("2.5")))).toEqual(["13:15 load.generators: expected a whole number, got the number 2.5"]);
    expect(brief(issuesOf(withGen("two")))).toEqual(['13:15 load.generators: expected a number, got "two"']);
    expect(brief(issuesOf(withGen("17")))).toEqual(["13:15 load.generators: must be at most 16 (got 17)"]);
    expect(brief(issuesOf(withGen("3", "\n  connections: 2")))).toEqual([
      "13:15 load.generators: 3 generators share a cap of 2 connections: each needs at least one (raise load.connections)",
    ]);
    // one line each, naming file, line and field
    expect(formatIssues(issuesOf(withGen("0"), "x.yaml"))).toBe("x.yaml:13:15  load.generators  must be at least 1 (got 0)");
  });

  it("a haproxy backend must be a declared service", () => {
    expect(brief(issuesOf(scenario({ services: SERVICES.replace("backend: app", "backend: api") })))).toEqual([
      '3:33 services.lb.backend: unknown service "api" (declared: lb, app, cache, db)',
    ]);
  });

  it("a kill or start must name a declared service", () => {
    expect(brief(issuesOf(scenario({ faults: ["{ at: 1s, kind: kill, service: redis }"] })))).toEqual([
      '17:36 faults[0].service: unknown service "redis" (declared: lb, app, cache, db)',
    ]);
  });

  it("replica must exist", () => {
    const ok = scenario({ faults: ["{ at: 1s, kind: kill, service: app, replica: 2 }"] });
    expect(parseScenario(ok, "t.yaml").faults).toHaveLength(1);
    const bad = scenario({ faults: ["{ at: 1s, kind: kill, service: app, replica: 3 }"] });
    expect(brief(issuesOf(bad))).toEqual(['17:50 faults[0].replica: "app" has only 2 replicas']);
  });

  it("a latency fault needs a declared link", () => {
    expect(brief(issuesOf(scenario({ faults: ["{ at: 1s, kind: latency, link: cache->db, latency: 10ms }"] })))).toEqual([
      "17:36 faults[0].link: no link cache->db is declared (links: lb->app, app->cache, app->db)",
    ]);
  });

  it("a latency fault needs a proxied link", () => {
    expect(brief(issuesOf(scenario({ faults: ["{ at: 1s, kind: latency, link: lb->app, latency: 10ms }"] })))).toEqual([
      "17:36 faults[0].link: link lb->app has proxy: false; a latency fault needs proxy: true",
    ]);
  });

  it("an app fault switches settings of a reference app, for a window that fits the load", () => {
    const ok = scenario({ faults: ["{ at: 5s, kind: app, service: app, set: { retryAttempts: 3 }, duration: 10s }"] });
    expect(parseScenario(ok, "t.yaml").faults[0]).toMatchObject({ kind: "app", set: { retryAttempts: 3 }, duration: 10_000 });
    expect(brief(issuesOf(scenario({ faults: ["{ at: 5s, kind: app, service: cache, set: { x: 1 } }"] })))).toEqual([
      '17:35 faults[0].service: "cache" is a memcached; app faults switch the reference app (kind: app)',
    ]);
    expect(
      brief(issuesOf(scenario({ faults: ["{ at: 55s, kind: app, service: app, set: { retryAttempts: 2 }, duration: 10s }"] }))),
    ).toEqual(["17:78 faults[0].duration: runs until 65s, past the end of the load (60s)"]);
    expect(brief(issuesOf(scenario({ faults: ["{ at: 5s, kind: app, service: app, set: {} }"] })))).toEqual([
      "17:45 faults[0].set: give at least one setting",
    ]);
  });

  it("a fault must start before the load ends (60s)", () => {
    expect(brief(issuesOf(scenario({ faults: ["{ at: 60s, kind: kill, service: cache }"] })))).toEqual([
      "17:11 faults[0].at: at 60s is not before the end of the load (60s)",
    ]);
    expect(parseScenario(scenario({ faults: ["{ at: 59s, kind: kill, service: cache }"] }), "t.yaml").faults).toHaveLength(1);
  });

  it("a fault must not outlast the load", () => {
    const f = "{ at: 50s, kind: latency, link: app->db, latency: 10ms, duration: 11s }";
    expect(brief(issuesOf(scenario({ faults: [f] })))).toEqual([
      "17:71 faults[0].duration: runs until 61s, past the end of the load (60s)",
    ]);
    const fits = "{ at: 50s, kind: latency, link: app->db, latency: 10ms, duration: 10s }";
    expect(parseScenario(scenario({ faults: [fits] }), "t.yaml").faults).toHaveLength(1);
  });

  it("overlapping latency faults on the same link and direction are an error", () => {
    const issues = issuesOf(
      scenario({
        faults: [
          "{ at: 10s, kind: latency, link: app->db, latency: 10ms, duration: 10s }",
          "{ at: 15s, kind: latency, link: app->db, latency: 50ms }",
        ],
      }),
    );
    expect(brief(issues)).toEqual(["18:11 faults[1].at: overlaps fault 0 (latency on app->db downstream, 10s to 20s)"]);
  });

  it("3,000 copies of one fault: one overlap issue per fault (the first 50 shown), found in linear work", () => {
    const c0 = process.cpuUsage();
    const err = (() => {
      try {
        parseScenario(
          scenario({
            faults: Array.from({ length: 3000 }, () => "{ at: 10s, kind: latency, link: app->db, latency: 10ms, duration: 10s }"),
          }),
          "many.yaml",
        );
      } catch (e) {
        return e;
      }
    })() as ScenarioInvalid;
    const used = process.cpuUsage(c0);
    // Every pair used to be an issue: 4.5 million of them, 25 s (found by npm run fuzz:validate).
    expect(err.issues.at(-1)?.message).toBe("… and 2949 more problem(s) not shown");
    expect(err.issues[0]?.message).toMatch(/overlaps fault 0/);
    expect((used.user + used.system) / 1000).toBeLessThan(10_000);
  });

  it("the fault library parses with its units", () => {
    const ok = scenario({
      // a memory hog needs a memory limit to press against
      services: SERVICES.replace("db: { kind: postgres }", "db: { kind: postgres, memory: 256m }"),
      faults: [
        "{ at: 1s, kind: bandwidth, link: app->db, rate: 64, duration: 2s }",
        "{ at: 1s, kind: timeout, link: app->cache, direction: upstream, duration: 2s }",
        "{ at: 4s, kind: slicer, link: app->db, average_size: 16, delay: 2ms, duration: 1s }",
        "{ at: 6s, kind: partition, link: app->cache, duration: 3s }",
        "{ at: 1s, kind: pause, service: app, replica: [1, 2], duration: 1s }",
        "{ at: 3s, kind: crashloop, service: app, count: 1, every: 5s, duration: 20s }",
        "{ at: 1s, kind: ulimit, service: cache, nofile: 64, duration: 5s }",
        "{ at: 1s, kind: resources, service: db, memory: 128m, cpus: 0.25, duration: 5s }",
        "{ at: 1s, kind: memory-hog, service: db, size: 64m, duration: 5s }",
        "{ at: 1s, kind: cpu-stress, service: app, workers: 2, duration: 5s }",
      ],
    });
    const f = parseScenario(ok, "t.yaml").faults;
    expect(f.map((x) => x.kind)).toEqual([
      "bandwidth",
      "timeout",
      "slicer",
      "partition",
      "pause",
      "crashloop",
      "ulimit",
      "resources",
      "memory-hog",
      "cpu-stress",
    ]);
    expect(f[2]).toMatchObject({ average_size: 16, size_variation: 0, delay: 2 });
    expect(f[7]).toMatchObject({ memory: 128 * 1024 * 1024, cpus: 0.25 });
  });

  it("rejects faults on unknown links, replica counts past the service, and contending windows", () => {
    const issues = issuesOf(
      scenario({
        faults: [
          "{ at: 1s, kind: reset_peer, link: lb->db }",
          "{ at: 1s, kind: pause, service: app, count: 3, duration: 1s }",
          "{ at: 1s, kind: partition, link: app->db, duration: 10s }",
          "{ at: 5s, kind: latency, link: app->db, latency: 5ms, duration: 1s }",
          "{ at: 1s, kind: app, service: app, set: { retryAttempts: 3 }, duration: 10s }",
          "{ at: 2s, kind: app, service: app, replica: 1, set: { retryAttempts: 1 }, duration: 1s }",
          "{ at: 1s, kind: resources, service: db, duration: 1s }",
          "{ at: 1s, kind: kill, service: app, replica: 1, count: 1 }",
        ],
      }),
    );
    expect(brief(issues)).toEqual([
      "17:39 faults[0].link: no link lb->db is declared (links: lb->app, app->cache, app->db)",
      '18:49 faults[1].count: "app" has only 2 replicas',
      "20:11 faults[3].at: overlaps fault 2 (app->db is partitioned then, 1s to 11s)",
      '22:11 faults[5].at: overlaps fault 4 (app settings retryAttempts of "app", 1s to 11s)',
      "23:21 faults[6].kind: give memory or cpus",
      "24:60 faults[7].count: give replica or count, not both",
    ]);
  });

  it("latency faults may share a link when their windows or directions differ", () => {
    const s = scenario({
      faults: [
        "{ at: 10s, kind: latency, link: app->db, latency: 10ms, duration: 10s }",
        "{ at: 20s, kind: latency, link: app->db, latency: 50ms }",
        "{ at: 10s, kind: latency, link: app->db, latency: 50ms, direction: upstream, duration: 5s }",
        "{ at: 10s, kind: latency, link: app->cache, latency: 50ms }",
      ],
    });
    expect(parseScenario(s, "t.yaml").faults).toHaveLength(4);
  });

  it("a start needs an earlier kill of that service", () => {
    expect(brief(issuesOf(scenario({ faults: ["{ at: 5s, kind: start, service: cache }"] })))).toEqual([
      '17:37 faults[0].service: starts "cache", but no earlier kill, stop or host-down took it down',
    ]);
    // Same instant is not earlier; file order does not matter, time does.
    const sameTime = scenario({ faults: ["{ at: 5s, kind: kill, service: cache }", "{ at: 5s, kind: start, service: cache }"] });
    expect(brief(issuesOf(sameTime))).toEqual([
      '18:37 faults[1].service: starts "cache", but no earlier kill, stop or host-down took it down',
    ]);
    const reordered = scenario({ faults: ["{ at: 9s, kind: start, service: cache }", "{ at: 5s, kind: kill, service: cache }"] });
    expect(parseScenario(reordered, "t.yaml").faults).toHaveLength(2);
  });

  it("a replica start needs that replica stopped", () => {
    const s = scenario({
      faults: [
        "{ at: 5s, kind: kill, service: app, replica: 1 }",
        "{ at: 6s, kind: start, service: app, replica: 2 }",
        "{ at: 7s, kind: start, service: app, replica: 1 }",
      ],
    });
    expect(brief(issuesOf(s))).toEqual([
      '18:37 faults[1].service: starts replica 2 of "app", but no earlier kill, stop or host-down took it down',
    ]);
  });
});

describe("host-down", () => {
  it("takes replicas down for a later start; with a duration its own revert brings them back", () => {
    const s = scenario({
      faults: [
        "{ at: 5s, kind: host-down, service: app, replica: 1 }",
        "{ at: 6s, kind: start, service: app, replica: 1 }",
        "{ at: 7s, kind: host-down, service: cache, duration: 2s }",
        "{ at: 10s, kind: start, service: cache }",
      ],
    });
    expect(brief(issuesOf(s))).toEqual(['20:38 faults[3].service: starts "cache", but no earlier kill, stop or host-down took it down']);
  });

  it("two host-downs of one service with overlapping windows contend; without a duration it is instant", () => {
    const s = scenario({
      faults: [
        "{ at: 5s, kind: host-down, service: cache, duration: 5s }",
        "{ at: 8s, kind: host-down, service: cache, duration: 5s }",
        "{ at: 15s, kind: host-down, service: app, replica: 1 }",
        "{ at: 16s, kind: start, service: app, replica: 1 }",
        "{ at: 17s, kind: host-down, service: app, replica: 1 }",
      ],
    });
    expect(brief(issuesOf(s))).toEqual(['18:11 faults[1].at: overlaps fault 0 (host-down of "cache", 5s to 10s)']);
  });
});

describe("JSON schema", () => {
  it("describes the input format", () => {
    const schema = scenarioJsonSchema() as { title?: string; type?: string; properties?: Record<string, unknown> };
    expect(typeof schema).toBe("object");
    expect(schema.type).toBe("object");
    expect(schema.title).toBe("Cascade scenario");
    expect(schema.properties?.services).toBeTypeOf("object");
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});

it("fixtures on disk match what the tests assume", () => {
  expect(readFileSync(fixture("many-errors.yaml"), "utf8").split("\n")[4]).toBe("    replicas: two");
});

describe("checks on a partly invalid file", () => {
  it("does not blame valid faults for an invalid link or kill", () => {
    const issues = issuesOf(
      scenario({
        links: "links:\n  - { from: app, to: cache, speed: 1 }",
        faults: [
          "{ at: 1s, kind: latency, link: app->cache, latency: 10ms }",
          "{ at: 2s, kind: kill, service: cache, signal: SIGHUP }",
          "{ at: 3s, kind: start, service: cache }",
        ],
      }),
    );
    expect(issues.map((i) => i.field)).toEqual(["links[0].speed", "faults[1].signal"]);
  });
});

describe("checks that know each kind of service", () => {
  it("refuses fields of another kind, the app's own setting errors, load on a non-HTTP service and an SLO no run can meet", () => {
    const services = `services:
  lb: { kind: haproxy, backend: app, connections: 10 }
  app: { kind: app, replicas: 2, timeout: 2s, config: { keys: many, nonsense: 1 } }
  cache: { kind: memcached, config: { keys: 5 } }
  db: { kind: postgres }`;
    const load = "load:\n  target: cache\n  phases:\n    - { duration: 60s, rate: 50 }\nslo: { p50: 10s, p99: 1ms }";
    const issues = brief(
      issuesOf(scenario({ services, load, faults: ["{ at: 5s, kind: app, service: app, set: { nonsenseSetting: 42, keys: 7 } }"] })),
    );
    expect(issues).toEqual([
      "3:38 services.lb.connections: only for kind: memcached or kind: redis or kind: mariadb; lb is kind: haproxy",
      "4:34 services.app.timeout: only for kind: haproxy; app is kind: app",
      '4:57 services.app.config.keys: "keys" must be a number, got "many"',
      expect.stringMatching(/^4:69 services\.app\.config\.nonsense: unknown reference-app setting "nonsense" \(known: keys, /),
      "5:29 services.cache.config: only for kind: app; cache is kind: memcached",
      "12:11 load.target: load is HTTP and cache is kind: memcached, which does not speak it; aim it at kind: app or kind: haproxy or kind: image",
      "15:23 slo.p99: p99 1ms is below p50 10s: no run can meet both",
      expect.stringMatching(/^17:47 faults\[0\]\.set\.nonsenseSetting: unknown reference-app setting/),
      '17:68 faults[0].set.keys: "keys" takes effect only when the app starts; set it in the service\'s config, not in an app fault',
    ]);
  });
});

describe("a haproxy load-balancer policy (lb)", () => {
  const withLb = (lb: string, app = "{ kind: app, replicas: 2 }") =>
    scenario({ services: `services:\n  lb:\n    kind: haproxy\n    backend: app\n    lb: ${lb}\n  app: ${app}`, links: "links: []" });

  it("parses every field, status codes written as numbers or strings", () => {
    const s = parseScenario(
      withLb("{ retries: 2, redispatch: true, retryOn: [conn-failure, 503, '504'], maxconn: 20, queueTimeout: 1s, check: { rise: 3 } }"),
      "t.yaml",
    );
    expect(s.services.lb?.lb).toEqual({
      retries: 2,
      redispatch: true,
      retryOn: ["conn-failure", "503", "504"],
      maxconn: 20,
      queueTimeout: 1000,
      check: { interval: 1000, rise: 3, fall: 2 },
    });
  });

  it("belongs to haproxy only", () => {
    const services = `${SERVICES.replace("app: { kind: app, replicas: 2 }", "app: { kind: app, replicas: 2, lb: { retries: 1 } }")}`;
    expect(brief(issuesOf(scenario({ services })))).toEqual(["4:34 services.app.lb: only for kind: haproxy; app is kind: app"]);
  });

  it("refuses more than 10 retries", () => {
    expect(brief(issuesOf(withLb("{ retries: 11 }")))).toEqual(["6:20 services.lb.lb.retries: must be at most 10 (got 11)"]);
  });

  it("names an unknown retry-on keyword and lists the valid ones", () => {
    expect(brief(issuesOf(withLb("{ retryOn: [503, teapot, 418] }")))).toEqual([
      `6:26 services.lb.lb.retryOn[1]: unknown retry-on keyword "teapot"; valid: none, conn-failure, empty-response, junk-response, response-timeout, 0rtt-rejected, 401, 403, 404, 408, 425, 500, 501, 502, 503, 504, all-retryable-errors`,
      `6:34 services.lb.lb.retryOn[2]: unknown retry-on keyword 418; valid: none, conn-failure, empty-response, junk-response, response-timeout, 0rtt-rejected, 401, 403, 404, 408, 425, 500, 501, 502, 503, 504, all-retryable-errors`,
    ]);
    expect(brief(issuesOf(withLb("{ retryOn: [none, 503] }")))).toEqual([
      "6:20 services.lb.lb.retryOn: none means no retries: it cannot be listed with other keywords",
    ]);
  });

  it("tunes health checks only of a backend that has a health path", () => {
    const image = "{ kind: image, image: web:1, port: 9000 }";
    expect(brief(issuesOf(withLb("{ check: { interval: 2s } }", image)))).toEqual([
      "6:11 services.lb.lb.check: app has no health path to check (kind: image without ready.http); give it ready: { http: /path } or drop lb.check",
    ]);
    const ready = "{ kind: image, image: web:1, port: 9000, ready: { http: /ok } }";
    expect(parseScenario(withLb("{ check: { interval: 2s } }", ready), "t.yaml").services.lb?.lb?.check).toEqual({
      interval: 2000,
      rise: 2,
      fall: 2,
    });
    expect(parseScenario(withLb("{ maxconn: 5 }", image), "t.yaml").services.lb?.lb).toEqual({ maxconn: 5 });
  });
});

describe("files that are not a scenario", () => {
  const write = (name: string, data: Buffer | string) => {
    const f = join(mkdtempSync(join(tmpdir(), "cascade-file-")), name);
    writeFileSync(f, data);
    return f;
  };
  const problem = async (file: string) => {
    try {
      await loadScenario(file);
    } catch (e) {
      if (e instanceof ScenarioInvalid) return brief(e.issues);
    }
    throw new Error("expected the file to be refused");
  };

  it("names UTF-16, PNG, binary and oversized files in one line without echoing them", async () => {
    const text = "name: x\n";
    expect(await problem(write("u16.yaml", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")])))).toEqual([
      "1:1 (file): the file is UTF-16; save it as UTF-8 (YAML scenarios are read as UTF-8)",
    ]);
    expect(await problem(write("u16nobom.yaml", Buffer.from(text, "utf16le")))).toEqual([
      "1:1 (file): the file looks like UTF-16 (every other byte is zero); save it as UTF-8",
    ]);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64)]);
    expect(await problem(write("img.yaml", png))).toEqual(["1:1 (file): the file is a PNG image, not a scenario"]);
    const big = await problem(write("big.yaml", `name: x\ndescription: "${"a".repeat(MAX_SCENARIO_BYTES)}"\n`));
    expect(big).toEqual([expect.stringMatching(/^1:1 \(file\): the file is 1\.0 MiB; a scenario may be at most 1 MiB$/)]);
  });

  it("locates the first problems only, says how many more, and quotes long values cut short", () => {
    const services = Array.from({ length: 2000 }, (_, i) => `  s${i}: { kind: memcached, replicas: "${"z".repeat(500)}" }`).join("\n");
    const issues = issuesOf(`name: x\nservices:\n${services}\nload: { target: s0, phases: [{ duration: 1s, rate: 1 }] }\n`);
    expect(issues.length).toBeLessThanOrEqual(MAX_ISSUES + 1);
    expect(issues.at(-1)?.message).toMatch(/^… and \d+ more problem\(s\) not shown$/);
    for (const i of issues) expect(i.message.length).toBeLessThan(400);
  });
});

describe("limits: what the harness cannot do is refused before it starts", () => {
  it("bounds durations, rates, sizes and names, and checks fault names and memory hogs", () => {
    const issues = brief(
      issuesOf(`name: lim
services:
  toxiproxy: { kind: memcached }
  app: { kind: app, memory: 1b, ready: { log: "(" } }
  db: { kind: postgres, memory: ${"4".repeat(100)}g }
load:
  target: app
  phases: [{ duration: 8000h, rate: 1e12 }]
faults:
  - { name: a, at: 1s, kind: latency, link: app->db, latency: -5ms }
  - { at: 3s, kind: crashloop, service: app, every: 1ms, duration: 1s }
`),
    );
    expect(issues).toEqual([
      '3:3 services.toxiproxy: invalid name "toxiproxy": reserved by the harness (reserved: toxiproxy, users, load)',
      "4:29 services.app.memory: at least 6m: Docker refuses a smaller memory limit",
      "4:47 services.app.ready.log: not a valid regular expression",
      expect.stringMatching(/^5:33 services\.db\.memory: at most 1 TiB, got "4{59}… \(103 characters\)$/),
      '8:24 load.phases[0].duration: at most 24h, got "8000h"',
      "8:37 load.phases[0].rate: must be at most 100000 (got 1000000000000)",
      '10:63 faults[0].latency: must not be negative, got "-5ms"',
      "11:53 faults[1].every: at least 100ms: a container cannot restart faster",
    ]);
    const names = brief(
      issuesOf(`name: lim
services:
  app: { kind: app }
load:
  target: app
  phases: [{ duration: 10s, rate: 10 }]
faults:
  - { name: a, at: 1s, kind: kill, service: app }
  - { name: a, at: 2s, kind: memory-hog, service: app, size: 64m }
`),
    );
    expect(names).toEqual([
      '9:13 faults[1].name: "a" is already the name of faults[0]',
      "9:51 faults[1].service: app has no memory limit: a memory hog needs one to press against (services.app.memory)",
    ]);
  });

  it("a YAML nested deeper than the reader can go is one located problem, not a stack trace", () => {
    const lines = ["name: x"];
    for (let i = 0; i < 900; i++) lines.push(`${" ".repeat(i)}k:`);
    lines.push(`${" ".repeat(900)}v: 1`);
    expect(brief(issuesOf(`${lines.join("\n")}\n`))).toEqual([
      "131:130 (syntax): indented 129 columns: a scenario nests at most 64 levels",
    ]);
    const flow = `name: x\nservices: ${"{a: ".repeat(5000)}1${"}".repeat(5000)}\n`;
    expect(brief(issuesOf(flow))).toEqual(["2:267 (syntax): 65 brackets deep: a scenario nests at most 64 levels"]);
  });
});

describe("build: a service's own Dockerfile folder", () => {
  const write = (build: string, kind = "image") => {
    const dir = mkdtempSync(join(tmpdir(), "cascade-build-"));
    mkdirSync(join(dir, "web"));
    mkdirSync(join(dir, "empty"));
    writeFileSync(join(dir, "web", "Dockerfile"), "FROM scratch\n");
    const file = join(dir, "s.yaml");
    writeFileSync(
      file,
      `name: b\nservices:\n  web:\n    kind: ${kind}\n    build: ${build}\n    port: 80\nlinks: []\nload: { target: web, phases: [{ duration: 1s, rate: 1 }] }\n`,
    );
    return { dir, file };
  };
  const problems = async (file: string) => ((await loadScenario(file).catch((e: unknown) => e)) as ScenarioInvalid).issues;

  it("resolves the context against the scenario's folder", async () => {
    const { dir, file } = write("./web");
    const { scenario } = await loadScenario(file);
    expect(scenario.services.web?.build).toEqual({ context: join(dir, "web") });
  });

  it("names the field and line of a context that is missing, has no Dockerfile, or sits on another kind", async () => {
    expect(brief(await problems(write("./nowhere").file))).toEqual([
      expect.stringMatching(/^5:12 services\.web\.build: no folder .*nowhere \(a build context is relative to the scenario file\)$/),
    ]);
    expect(brief(await problems(write("{ context: ./empty }").file))).toEqual([
      "5:23 services.web.build.context: empty/Dockerfile: no Dockerfile there",
    ]);
    expect(brief(await problems(write("./web", "memcached").file))).toContain(
      "5:5 services.web.build: only for kind: image; web is kind: memcached",
    );
  });
});
