// The mariadb kind's own logic: its plan (env for the official image and ours, max_connections,
// the app's mysql:// URL), the app's read, and the figures the mechanisms take from its counters.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dbCalls, dbFailures, connections } from "../../src/analyze/figures.js";
import type { Series } from "../../src/analyze/series.js";
import { mariadbItemQuery } from "../../src/app/mariadb.js";
import { ROOT } from "../../src/paths.js";
import { loadScenario, parseScenario } from "../../src/scenario/load.js";
import { calibrationNeeds } from "../../src/calibrate/needs.js";
import { planTopology, redactedPlan } from "../../src/topology/plan.js";

describe("mariadb plan", async () => {
  const { scenario } = await loadScenario(join(ROOT, "scenarios/mariadb-cache-kill.yaml"));
  const plan = planTopology(scenario);

  it("runs the server with the user, database and max_connections, the password left to the runtime", () => {
    const db = plan.containers.find((c) => c.service === "db");
    expect(db?.image).toEqual({ role: "mariadb" });
    expect(db?.port).toBe(3306);
    expect(db?.env).toEqual({ MARIADB_USER: "cascade", MARIADB_DATABASE: "cascade" });
    expect(db?.cmd).toEqual(["mariadbd", "--port=3306", "--max-connections=300", "--skip-name-resolve"]);
    expect(db?.ready.tcp).toEqual({ port: 3306, protocol: "mariadb" });
    expect(JSON.stringify(redactedPlan(plan))).not.toMatch(/PASSWORD|MYSQL_PWD/);
  });

  it("points the app at it with a mysql:// URL through Toxiproxy (on its own name), and calibrates it", () => {
    const app = plan.containers.find((c) => c.host === "app-1");
    expect(app?.env.DATABASE_URL).toBe("mysql://cascade@db:3306/cascade"); // Toxiproxy answers as db
    expect(calibrationNeeds(scenario)).toEqual([{ db: "db", apps: ["app"], declaredMs: 8 }]);
  });
});

describe("mariadb validation", () => {
  it("refuses a max_connections MariaDB would raise to 10", () => {
    const yaml = `name: m
services:
  app: { kind: app }
  db: { kind: mariadb, connections: 5 }
links: [{ from: app, to: db }]
load: { target: app, phases: [{ duration: 1s, rate: 1 }] }
`;
    expect(() => parseScenario(yaml, "m.yaml")).toThrow(/m\.yaml:4:\d+.*max_connections is at least 10, got 5/);
  });
});

describe("mariadb read", () => {
  it("burns its cost with BENCHMARK, sleeps with SLEEP, and is stopped by the server at the time left", () => {
    expect(mariadbItemQuery(3, 0, 0, 250)).toEqual({
      sql: "SET STATEMENT max_statement_time=0.250 FOR SELECT payload FROM items WHERE id = ?",
      values: [3],
    });
    const q = mariadbItemQuery(3, 1234.4, 50, 1000);
    expect(q.sql).toBe(
      "SET STATEMENT max_statement_time=1.000 FOR SELECT payload, BENCHMARK(?, MD5('cascade')) AS cost, SLEEP(?) AS slept FROM items WHERE id = ?",
    );
    expect(q.values).toEqual([1234, 0.05, 3]);
  });
});

describe("mariadb figures", () => {
  const s: Series = {
    seconds: 2,
    users: [0, 1].map(() => ({ offered: 10, sent: 10, dropped: 0, good: 10, s5xx: 0, s503: 0, success: 1, p50: 1, p99: 2 })),
    kinds: { db: "mariadb" },
    services: {
      db: [
        {
          questions_per_s: 12,
          connections_per_s: 3,
          aborted_connects_per_s: 1,
          connection_errors_max_connections_per_s: 0,
          max_statement_time_exceeded_per_s: 2,
        },
        {
          questions_per_s: 8,
          connections_per_s: 0,
          aborted_connects_per_s: 0,
          connection_errors_max_connections_per_s: 0,
          max_statement_time_exceeded_per_s: 0,
        },
      ],
    },
    gaps: {},
  };
  const all = { from: 0, to: 2 };
  it("takes calls from Questions, failures from stopped statements and refusals", () => {
    expect(dbCalls(s, all, true)).toMatchObject({ value: 20, requests: 20 });
    expect(dbCalls(s, all, true).source).toMatch(/Questions/);
    expect(dbFailures(s, all, true).value).toBe(3);
    expect(connections(s, all)).toEqual([
      expect.objectContaining({
        dep: "db",
        opened: 3,
        refused: 1,
        source: "db (mariadb Connections; Aborted_connects or Connection_errors_max_connections)",
      }),
    ]);
  });
});
