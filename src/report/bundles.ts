// The vega, vega-lite and vega-embed browser bundles (minified UMD files) from node_modules.
// report.html inlines all three; render.ts evaluates the first two in Node. So one copy of the
// libraries draws both the PNGs and the page, and starting them is quick: evaluating two files
// takes ~0.1 s where importing vega's ~40 ES modules takes ~0.4 s. V8's compiled code for the two
// is kept between processes (compile cache below), as Node's own module compile cache does.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import vm from "node:vm";
import { stateDir } from "../paths.js";
import type * as Vega from "vega";
import type * as VegaLite from "vega-lite";

export type BundleName = "vega" | "vega-lite" | "vega-embed";

const require = createRequire(import.meta.url);
const cache = new Map<BundleName, { code: string; version: string }>();

/** The folder of an installed package (its entry point resolved, then up to its package.json). */
function packageDir(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === pkg) return dir;
    if (dir === dirname(dir)) throw new Error(`cannot find the folder of the ${pkg} package`);
    dir = dirname(dir);
  }
}

/** A package's browser bundle (its `jsdelivr` / `unpkg` file) and version, read once. */
export function bundle(pkg: BundleName): { code: string; version: string } {
  const hit = cache.get(pkg);
  if (hit) return hit;
  const dir = packageDir(pkg);
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { jsdelivr?: string; unpkg?: string; version: string };
  const file = meta.jsdelivr ?? meta.unpkg;
  if (!file) throw new Error(`${pkg} ships no browser bundle`);
  const out = { code: readFileSync(join(dir, file), "utf8"), version: meta.version };
  cache.set(pkg, out);
  return out;
}

let libs: { vega: typeof Vega; vegaLite: typeof VegaLite } | undefined;

/** Where V8's compiled code of a bundle is kept: per content of the bundle (V8 itself checks only
 * the source's length), V8 version and CPU (V8 rejects a cache made by another V8 or with other
 * flags; it is then made again). Set CASCADE_COMPILE_CACHE=off to neither read nor write it. */
const compileCacheFile = (pkg: BundleName, code: string, version: string) =>
  join(
    stateDir(),
    "compile-cache",
    `${pkg}-${version}-${createHash("sha1").update(code).digest("hex").slice(0, 16)}-v8-${process.versions.v8}-${process.arch}.bin`,
  );
const compileCacheOn = () => process.env.CASCADE_COMPILE_CACHE !== "off";

/** The evaluated bundles, and whether their cache on disk is missing or was rejected. */
const scripts: Array<{ pkg: BundleName; script: vm.Script; file: string; stale: boolean; used: boolean }> = [];

/** Per evaluated bundle: whether V8 took its compiled code from the cache on disk (tests, benchmarks). */
export const compileCacheUse = (): Record<string, boolean> => Object.fromEntries(scripts.map((s) => [s.pkg, s.used]));

/** Runs a bundle, with the compiled code a previous process saved when there is some: a report's
 * first charts then skip compiling vega's functions (a tenth of the first report's time). */
function evaluate(pkg: BundleName, filename: string): void {
  const { code, version } = bundle(pkg);
  const file = compileCacheFile(pkg, code, version);
  let cachedData: Buffer | undefined;
  if (compileCacheOn())
    try {
      cachedData = readFileSync(file);
    } catch {
      // none yet: made after this process's first report (saveCompiledBundles)
    }
  const script = new vm.Script(code, { filename, ...(cachedData ? { cachedData } : {}) });
  script.runInThisContext();
  const used = cachedData !== undefined && script.cachedDataRejected !== true;
  scripts.push({ pkg, script, file, stale: compileCacheOn() && !used, used });
}

/** Saves the bundles' compiled code for the next process, with every function compiled so far (so
 * call it after rendering charts), when none was on disk or V8 rejected it. Best effort: a cache
 * that cannot be written costs the next process time, not a failure. */
export function saveCompiledBundles(): void {
  for (const s of scripts) {
    if (!s.stale) continue;
    s.stale = false;
    try {
      mkdirSync(dirname(s.file), { recursive: true });
      const tmp = `${s.file}.${process.pid}.tmp`;
      writeFileSync(tmp, s.script.createCachedData());
      renameSync(tmp, s.file);
      // the caches of other versions of this bundle (its name, a dash, a version number)
      const own = new RegExp(`^${s.pkg}-\\d.*\\.bin$`);
      for (const f of readdirSync(dirname(s.file)))
        if (own.test(f) && f !== basename(s.file)) rmSync(join(dirname(s.file), f), { force: true });
    } catch {
      // read-only home, full disk: the next process compiles again
    }
  }
}

/** vega and vega-lite evaluated from their bundles. The bundles publish themselves as the globals
 * `vega` and `vegaLite` (vega-lite binds the vega it finds there); whatever those globals were
 * before is put back afterwards. */
export function libraries(): { vega: typeof Vega; vegaLite: typeof VegaLite } {
  if (libs) return libs;
  const g = globalThis as Record<string, unknown>;
  const before = { vega: g.vega, vegaLite: g.vegaLite };
  try {
    evaluate("vega", "vega.min.js");
    evaluate("vega-lite", "vega-lite.min.js");
    libs = { vega: g.vega as typeof Vega, vegaLite: g.vegaLite as typeof VegaLite };
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete g[k];
      else g[k] = v;
    }
  }
  if (typeof libs?.vega?.View !== "function" || typeof libs.vegaLite?.compile !== "function")
    throw new Error("the vega / vega-lite bundles did not load");
  return libs;
}
