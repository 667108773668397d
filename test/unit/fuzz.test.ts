// The machinery of `npm run fuzz:validate` (10,000 inputs, run by hand and reported), on a small
// deterministic sample: every mutated input is either valid or refused with located issues.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mutate, prng } from "../../bench/fuzz.js";
import { ROOT } from "../../src/paths.js";
import { ScenarioInvalid } from "../../src/scenario/issues.js";
import { parseScenario } from "../../src/scenario/load.js";

describe("validator fuzz (sample)", () => {
  // 150 inputs take ~3 s on a quiet machine, ~35 s beside a CPU hog: hence the timeout.
  it("150 mutated catalog scenarios: no exception but ScenarioInvalid, each issue located", { timeout: 120_000 }, () => {
    const dir = join(ROOT, "scenarios/catalog");
    const bases = readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8"));
    const seen = { valid: 0, invalid: 0 };
    for (let n = 0; n < 150; n++) {
      const rnd = prng(7 * 1_000_003 + n);
      const text = mutate(bases[Math.floor(rnd() * bases.length)] as string, rnd);
      try {
        parseScenario(text, "fuzz.yaml");
        seen.valid++;
      } catch (e) {
        if (!(e instanceof ScenarioInvalid)) throw new Error(`input ${n}: ${(e as Error).stack}\n--- input ---\n${text.slice(0, 2000)}`);
        seen.invalid++;
        for (const i of e.issues) expect(i.line).toBeGreaterThanOrEqual(1);
      }
    }
    // Both outcomes occur: the mutations neither always break nor never break a file.
    expect(seen.invalid).toBeGreaterThan(50);
    expect(seen.valid).toBeGreaterThan(0);
  });

  it("the same seed makes the same input", () => {
    const base = "name: a\nservices:\n  app: { kind: app }\n";
    expect(mutate(base, prng(42))).toBe(mutate(base, prng(42)));
  });
});
