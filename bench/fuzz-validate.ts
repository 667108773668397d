// `npm run fuzz:validate -- [--count 10000] [--seed 1]` — the validator against mutated scenarios:
// every catalog and fixture scenario, mutated (bench/fuzz.ts), through parseScenario in a worker
// process (bench/fuzz-worker.ts).
// An input may be valid or refused (ScenarioInvalid); anything else thrown is an uncaught
// exception, and an input that takes longer than HANG_MS is a hang (the worker is replaced).
// Prints the counts and the slowest input; writes each failing input next to the report.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type ChildProcess, fork } from "node:child_process";
import { ROOT } from "../src/paths.js";
import { mutate, prng } from "./fuzz.js";

const HANG_MS = 10_000;
const { values } = parseArgs({ options: { count: { type: "string", default: "10000" }, seed: { type: "string", default: "1" } } });
const count = Number(values.count);
const seed = Number(values.seed);

const bases = [
  ...readdirSync(join(ROOT, "scenarios/catalog")).map((f) => join(ROOT, "scenarios/catalog", f)),
  join(ROOT, "scenarios/cache-kill.yaml"),
  ...readdirSync(join(ROOT, "test/fixtures/scenarios"))
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => join(ROOT, "test/fixtures/scenarios", f)),
]
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => readFileSync(f, "utf8"));

const spawnWorker = (): ChildProcess =>
  fork(join(ROOT, "bench/fuzz-worker.ts"), [], { execArgv: ["--import", "tsx"], serialization: "advanced" });

const out = join(ROOT, "reports", `fuzz-validate-${new Date().toISOString().replace(/[:.]/g, "-")}`);
const counts = { valid: 0, invalid: 0, uncaught: 0, hang: 0 };
let slowest = { ms: 0, n: -1, bytes: 0 };
let worker = spawnWorker();
const t0 = Date.now();
for (let n = 0; n < count; n++) {
  const rnd = prng(seed * 1_000_003 + n);
  const text = mutate(bases[Math.floor(rnd() * bases.length)] as string, rnd);
  const r = await new Promise<{ outcome: keyof typeof counts; detail: string; ms: number }>((resolve) => {
    const timer = setTimeout(() => {
      worker.kill("SIGKILL");
      worker = spawnWorker();
      resolve({ outcome: "hang", detail: `no answer in ${HANG_MS} ms`, ms: HANG_MS });
    }, HANG_MS);
    worker.once("message", (m) => {
      clearTimeout(timer);
      resolve(m as { outcome: keyof typeof counts; detail: string; ms: number });
    });
    worker.send(text);
  });
  counts[r.outcome]++;
  if (r.ms > slowest.ms) slowest = { ms: r.ms, n, bytes: text.length };
  if (r.outcome === "uncaught" || r.outcome === "hang") {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `input-${n}.yaml`), text);
    writeFileSync(join(out, `input-${n}.txt`), r.detail);
  }
  if ((n + 1) % 1000 === 0)
    process.stderr.write(`${n + 1}/${count} ${JSON.stringify(counts)} ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}
worker.kill();
process.stdout.write(
  `fuzz of the validator: ${count} inputs (seed ${seed}, ${bases.length} base files) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n` +
    `  valid ${counts.valid}, refused ${counts.invalid}, uncaught exceptions ${counts.uncaught}, hangs (> ${HANG_MS / 1000} s) ${counts.hang}\n` +
    `  slowest: input ${slowest.n} (${slowest.bytes} bytes) ${slowest.ms.toFixed(0)} ms\n` +
    (counts.uncaught + counts.hang ? `  failing inputs: ${out}\n` : ""),
);
process.exit(counts.uncaught + counts.hang ? 1 : 0);
