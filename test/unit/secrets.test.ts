// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the scenario syntax under test, not a template
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/load.js";
import { redactSource, resolveRefs, unsetRefs } from "../../src/scenario/secrets.js";
import { describePlan } from "../../src/topology/describe.js";
import { planTopology, redactedPlan } from "../../src/topology/plan.js";

const yaml = `name: secret-env
services:
  app:
    kind: app
    env:
      API_TOKEN: hunter2-literal   # a literal secret
      DB_PASSWORD: \${CASCADE_TEST_DB_PASSWORD}
      MODE: fast
load:
  target: app
  phases: [{ duration: 5s, rate: 10 }]
`;

describe("secrets in env", () => {
  const s = parseScenario(yaml, "s.yaml");

  it("the record's copies hold no literal secret: plan.json and scenario.yaml redact it, keep references and the rest", () => {
    const env = redactedPlan(planTopology(s)).containers.find((c) => c.service === "app")?.env;
    expect(env).toMatchObject({ API_TOKEN: "<redacted>", DB_PASSWORD: "${CASCADE_TEST_DB_PASSWORD}", MODE: "fast" });
    const copy = redactSource(yaml);
    expect(copy).not.toContain("hunter2");
    expect(copy).toContain("API_TOKEN: <redacted>");
    expect(copy).toContain("# a literal secret");
    expect(parseScenario(copy, "copy.yaml").services.app?.env.DB_PASSWORD).toBe("${CASCADE_TEST_DB_PASSWORD}");
    // Nothing to redact: the text is kept byte for byte.
    const plain = yaml.replace(/ {6}API_TOKEN.*\n/, "");
    expect(redactSource(plain)).toBe(plain);
  });

  it("a ${NAME} reference is resolved from the harness's environment, and an unset one is found before anything starts", () => {
    expect(resolveRefs("${A}-${B}", { A: "x", B: "y" })).toBe("x-y");
    expect(() => resolveRefs("${A}", {})).toThrow("${A} is not set");
    expect(unsetRefs(s, yaml, {})).toEqual([{ line: 7, field: "services.app.env.DB_PASSWORD", name: "CASCADE_TEST_DB_PASSWORD" }]);
    expect(unsetRefs(s, yaml, { CASCADE_TEST_DB_PASSWORD: "x" })).toEqual([]);
  });

  it("--dry-run names env variables but prints no value", () => {
    const text = describePlan(s, planTopology(s)).join("\n");
    expect(text).toContain("app-1: API_TOKEN, DB_PASSWORD, MODE, PORT");
    expect(text).not.toContain("hunter2");
    expect(text).toMatch(/^dry run of secret-env: nothing is started/);
  });
});
