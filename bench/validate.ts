// `npm run bench:validate` — how long `validate` takes on big or generated input: files with 10k,
// 40k and 100k unknown keys, a 1 MB file of valid-looking but unknown services, and a 50 MB file
// (refused by the size cap). Each through loadScenario, as `cascade validate` calls it.
// A benchmark, not a test: it prints numbers.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadScenario, ScenarioInvalid } from "../src/scenario/load.js";

const dir = mkdtempSync(join(tmpdir(), "cascade-bench-validate-"));
const head = "name: big\nservices:\n  app: { kind: app }\nload:\n  target: app\n  phases: [{ duration: 5s, rate: 10 }]\n";

const cases: Array<[string, () => string]> = [
  ["10k unknown keys", () => `${head}${Array.from({ length: 10_000 }, (_, i) => `k${i}: ${i}`).join("\n")}\n`],
  ["40k unknown keys", () => `${head}${Array.from({ length: 40_000 }, (_, i) => `k${i}: ${i}`).join("\n")}\n`],
  ["100k unknown keys", () => `${head}${Array.from({ length: 100_000 }, (_, i) => `k${i}: ${i}`).join("\n")}\n`],
  [
    "1 MB of bad services",
    () => {
      let s = "name: big\nservices:\n";
      for (let i = 0; s.length < 1_000_000; i++) s += `  s${i}: { kind: app, replicas: "many", colour: blue }\n`;
      return `${s}load: { target: s0, phases: [{ duration: 5s, rate: 10 }] }\n`;
    },
  ],
  ["50 MB file", () => `${head}description: "${"x".repeat(50 * 2 ** 20)}"\n`],
];

process.stdout.write("| input | size | problems shown | ms |\n|---|---:|---|---:|\n");
for (const [name, make] of cases) {
  const file = join(dir, `${name.replace(/\W+/g, "-")}.yaml`);
  writeFileSync(file, make());
  const size = statSync(file).size;
  const t0 = performance.now();
  let shown = "valid";
  try {
    await loadScenario(file);
  } catch (e) {
    if (!(e instanceof ScenarioInvalid)) throw e;
    const last = e.issues.at(-1)?.message ?? "";
    shown = `${e.issues.length}${/more problem/.test(last) ? ` (${last})` : ""}; first: ${e.issues[0]?.message.slice(0, 60)}`;
  }
  const ms = performance.now() - t0;
  process.stdout.write(`| ${name} | ${(size / 2 ** 20).toFixed(2)} MiB | ${shown} | ${ms.toFixed(0)} |\n`);
}
rmSync(dir, { recursive: true, force: true });
