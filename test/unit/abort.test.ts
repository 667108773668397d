import { describe, expect, it } from "vitest";
import type { LoadSample } from "../../src/load/driver.js";
import { StopCondition } from "../../src/run/abort.js";
import { parseScenario } from "../../src/scenario/load.js";

const second = (t: number, good: number, known: number, offered = known): LoadSample => ({
  t,
  ts: "",
  offered,
  sent: offered,
  dropped: 0,
  completed: known,
  s2xx: good,
  s3xx: 0,
  s4xx: 0,
  s5xx: known - good,
  s503: 0,
  errors: 0,
  timeouts: 0,
  p50: null,
  p95: null,
  p99: null,
  max: null,
});

describe("abort: the scenario's stop condition", () => {
  const yaml = (abort: string) =>
    `name: a\nservices:\n  app: { kind: app }\nload: { target: app, phases: [{ duration: 30s, rate: 10 }] }\nabort: ${abort}\n`;

  it("stops once availability stays below the share for the whole span; a good second starts the count again", () => {
    const s = parseScenario(yaml("{ availability: 50%, for: 3s }"), "a.yaml");
    const stop = new StopCondition(s.abort as NonNullable<typeof s.abort>);
    const seen = [
      second(0, 10, 10),
      second(1, 2, 10),
      second(2, 1, 10),
      second(3, 9, 10), // served again: the count starts over
      second(4, 0, 10),
      second(5, 0, 0, 0), // a pause in the load: neither counts nor breaks the span
      second(6, 4, 10),
      second(7, 0, 0, 10), // load, but no outcome known yet: nobody served
    ].map((x) => stop.see(x));
    expect(seen.slice(0, 7).every((r) => r === undefined)).toBe(true);
    expect(seen[7]).toBe("abort: users served below 50 % for 3 s in a row (0 % in second 7) — stopping the run, reverting its faults");
  });

  it("is validated: a share and a span of at least 1 s", () => {
    expect(() => parseScenario(yaml("{ availability: lots, for: 3s }"), "a.yaml")).toThrow(/abort\.availability.*not a percentage/);
    expect(() => parseScenario(yaml("{ availability: 50%, for: 500ms }"), "a.yaml")).toThrow(/abort\.for.*at least 1s/);
    expect(() => parseScenario(yaml("{ availability: 50% }"), "a.yaml")).toThrow(/abort\.for/);
  });
});
