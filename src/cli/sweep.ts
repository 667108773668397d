// cascade sweep: the metastability map. Parses the grid, validates every point's scenario before
// anything starts, prints the estimate, runs the points (resuming a recorded sweep), draws the map.
import { join } from "node:path";
import { resolveSource } from "../images/source.js";
import { engineOrExit, loadOrExit } from "./preflight.js";
import { reportsDir } from "../paths.js";
import { type Axis, describePoint, parseSet, parseVary, SweepUsage } from "../sweep/grid.js";
import { writeMap } from "../sweep/map.js";
import { readSweep } from "../sweep/record.js";
import { columns, regionSentence } from "../sweep/regions.js";
import { estimate, minutes, openRecord, planSweep, runSweep } from "../sweep/sweep.js";
import { EXIT } from "./exit.js";
import { shown } from "./paths.js";

export interface SweepFlags {
  vary: string[];
  set?: string[];
  repeat?: string;
  out?: string;
  resume?: boolean;
  dryRun?: boolean;
  images?: string;
  lock?: string;
  verbose?: boolean;
}

const points = (n: number) => `${n} point${n === 1 ? "" : "s"}`;

export async function sweepCommand(file: string, o: SweepFlags): Promise<number> {
  const loaded = await loadOrExit(file);
  if (typeof loaded === "number") return loaded;
  let plan: ReturnType<typeof planSweep>;
  let rec: ReturnType<typeof openRecord>;
  let dir: string;
  try {
    const axes: Axis[] = o.vary.map(parseVary);
    const set = (o.set ?? []).map((s) => ({ ...parseSet(s), flag: `--set ${s}` }));
    const repeat = o.repeat === undefined ? 1 : Number(o.repeat);
    plan = planSweep(
      file,
      loaded.source,
      axes,
      set,
      repeat,
      o.vary.map((v) => `--vary ${v}`),
    );
    dir = o.out ?? join(reportsDir(), "sweeps", plan.name);
    if (o.dryRun) {
      const est = estimate(plan, readSweep(dir));
      process.stdout.write(
        `${plan.points.map((p) => `${p.id}  ${describePoint(plan.axes, p.values)}`).join("\n")}\n${points(plan.points.length)} × ${plan.repeat} run(s); ${est.runs} run(s) to do: ~${minutes(est.total_s)} (${est.basis}); folder ${shown(dir)}\n`,
      );
      return EXIT.ok;
    }
    rec = openRecord(dir, plan, o.resume === true);
  } catch (e) {
    if (!(e instanceof SweepUsage)) throw e;
    process.stderr.write(`${e.message}\n`);
    return EXIT.usage;
  }
  const noEngine = await engineOrExit();
  if (noEngine !== undefined) return noEngine;
  const { source, from } = resolveSource(o.images);
  const est = estimate(plan, rec);
  const done = plan.points.length * plan.repeat - est.runs;
  process.stderr.write(
    `sweep ${plan.name}: ${points(plan.points.length)} × ${plan.repeat} run(s)${done ? `, ${done} already recorded` : ""}; estimate ${est.runs} run(s) × ${Math.round(est.per_run_s)} s ≈ ${minutes(est.total_s)} (${est.basis}); folder ${shown(dir)}\n`,
  );
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals === 1) {
      process.stderr.write(`\n${sig}: stopping the current point (its run is torn down and not recorded); --resume continues\n`);
      ac.abort(new Error(sig));
    } else {
      process.stderr.write(`${sig} again: exiting now; \`cascade down\` removes what a run left\n`);
      process.exit(EXIT.interrupted);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  const t0 = Date.now();
  const res = await runSweep(plan, rec, {
    dir,
    source,
    fallbackOffline: from === "default",
    signal: ac.signal,
    progress: (l) => process.stderr.write(`${l}\n`),
    verbose: o.verbose === true,
    ...(o.lock ? { lock: o.lock } : {}),
  });
  const out = await writeMap(dir, rec);
  const wall = (Date.now() - t0) / 1000;
  process.stdout.write(
    [
      regionSentence(rec),
      ...columns(rec).map((c) => `  ${c.sentence}`),
      `map: ${shown(out.png)}  page: ${shown(out.html)}  summary: ${shown(out.markdown)}  record: ${shown(join(dir, "sweep.json"))}`,
      `${res.ran} run(s) in ${minutes(wall)} wall time${res.interrupted ? "; interrupted: `--resume` continues from the recorded points" : ""}`,
      "",
    ].join("\n"),
  );
  if (res.interrupted) return EXIT.interrupted;
  return rec.points.some((p) => p.class === "no verdict" || p.class === null) ? EXIT.inconclusive : EXIT.ok;
}
