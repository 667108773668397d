// The package as a user imports it: a project of its own with cascade-chaos in node_modules (a
// link to this checkout, as `npm install <path>` makes), a plain .mjs file importing it by name.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe("programmatic API", () => {
  it("imports by package name and validates, analyzes and gates as the CLI does", async () => {
    const project = mkdtempSync(join(tmpdir(), "cascade-user-"));
    mkdirSync(join(project, "node_modules"));
    symlinkSync(ROOT, join(project, "node_modules", "cascade-chaos"), "dir");
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user", type: "module", private: true }));
    writeFileSync(join(project, "bad.yaml"), "name: x\nservices: {}\n");
    writeFileSync(
      join(project, "use.mjs"),
      `import { validate, analyze, EXIT, runScenario, writeReport } from "cascade-chaos";
const good = await validate(process.argv[2]);
const bad = await validate("bad.yaml");
const a = analyze(process.argv[3]);
console.log(JSON.stringify({
  good: good.ok, bad: bad.ok, problems: bad.ok ? 0 : bad.problems.length,
  verdict: a.verdict, gate: a.gate.line, exit: a.gate.exit, sloFailed: EXIT.sloFailed,
  functions: [typeof runScenario, typeof writeReport],
}));`,
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["use.mjs", join(ROOT, "scenarios/cache-kill.yaml"), join(ROOT, "test/fixtures/runs/shedding-held")],
      { cwd: project, timeout: 60_000 },
    );
    expect(JSON.parse(stdout)).toEqual({
      good: true,
      bad: false,
      problems: expect.any(Number),
      verdict: "no cascade",
      gate: "gate: FAIL — SLO availability 77.3 % (target ≥ 80.0 %) (exit 4)",
      exit: 4,
      sloFailed: 4,
      functions: ["function", "function"],
    });
  }, 60_000);
});
