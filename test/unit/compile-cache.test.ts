// The vega bundles' compiled code kept between processes (src/report/bundles.ts): made after a
// process's first chart, taken by the next process, made again when V8 rejects it, never read or
// written with CASCADE_COMPILE_CACHE=off. Each case is a fresh Node process with its own CASCADE_HOME.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src/report/", import.meta.url));

/** A fresh process draws one small chart to SVG, saves the cache, and says what it took from disk. */
async function chartInFreshProcess(
  home: string,
  env: Record<string, string> = {},
): Promise<{ used: Record<string, boolean>; svg: string }> {
  const code = `
    const { compileCacheUse, saveCompiledBundles } = await import(${JSON.stringify(join(SRC, "bundles.ts"))});
    const { toSvg } = await import(${JSON.stringify(join(SRC, "render.ts"))});
    const svg = await toSvg({ data: { values: [{ t: 0, v: 1 }, { t: 1, v: 3 }] }, mark: "line", encoding: { x: { field: "t", type: "quantitative" }, y: { field: "v", type: "quantitative" } } });
    saveCompiledBundles();
    console.log(JSON.stringify({ used: compileCacheUse(), svg }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    env: { ...process.env, CASCADE_HOME: home, ...env },
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) as string);
}

const homes: string[] = [];
const newHome = () => {
  const home = mkdtempSync(join(tmpdir(), "cascade-compile-cache-"));
  homes.push(home);
  return home;
};
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const cacheFiles = (home: string) => (existsSync(join(home, "compile-cache")) ? readdirSync(join(home, "compile-cache")).sort() : []);

describe("compile cache of the vega bundles", () => {
  it("is made by the first process, taken by the next, and made again when V8 rejects it; the chart is the same each time", async () => {
    const home = newHome();
    const first = await chartInFreshProcess(home);
    expect(first.used).toEqual({ vega: false, "vega-lite": false });
    const files = cacheFiles(home);
    expect(files.map((f) => f.replace(/-\d.*$/, ""))).toEqual(["vega", "vega-lite"]);
    const second = await chartInFreshProcess(home);
    expect(second.used).toEqual({ vega: true, "vega-lite": true });
    expect(second.svg).toBe(first.svg);
    // a damaged cache is refused by V8, not run, and replaced; another version's is removed then
    for (const f of files) writeFileSync(join(home, "compile-cache", f), "not V8's code");
    writeFileSync(join(home, "compile-cache", "vega-5.0.0-0123456789abcdef-v8-1-x64.bin"), "an older vega's");
    const third = await chartInFreshProcess(home);
    expect(third.used).toEqual({ vega: false, "vega-lite": false });
    expect(third.svg).toBe(first.svg);
    expect(cacheFiles(home)).toEqual(files);
    expect((await chartInFreshProcess(home)).used).toEqual({ vega: true, "vega-lite": true });
  }, 60_000);

  it("is neither read nor written with CASCADE_COMPILE_CACHE=off", async () => {
    const home = newHome();
    const run = await chartInFreshProcess(home, { CASCADE_COMPILE_CACHE: "off" });
    expect(run.used).toEqual({ vega: false, "vega-lite": false });
    expect(cacheFiles(home)).toEqual([]);
  }, 30_000);
});
