// cascade — the command line. Each command is a thin shell over a stage; see README for usage.
import { Command, Option } from "commander";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../paths.js";
import { EXIT, EXIT_HELP } from "./exit.js";
import { FORMATS, type OutputFormat } from "./format.js";
import { SourceInvalid } from "../images/source.js";
// Each command's module is imported when that command runs: `cascade validate` or `--version` does
// not load Docker's client, the load driver or vega.
import type { SweepFlags } from "./sweep.js";

const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

const program = new Command("cascade")
  .description("Chaos and load tests for cascading failures on a real Docker topology")
  .version(version, "-V, --version", "print Cascade's version")
  .showHelpAfterError()
  .addHelpText("after", `\n${EXIT_HELP}\n`)
  // Usage errors (unknown command or option, missing argument) exit 64, not commander's 1, which
  // would read as an unexpected error; help and --version exit 0. Subcommands inherit this.
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  });

/** --format text|json|github, and --json as its short form. */
const formatOpts = (cmd: Command) =>
  cmd
    .addOption(new Option("--format <format>", "text, json (for scripts) or github (Actions annotations)").choices(FORMATS).default("text"))
    .option("--json", "same as --format json");
const formatOf = (o: { format?: OutputFormat; json?: boolean }): OutputFormat => (o.json ? "json" : (o.format ?? "text"));

const imagesOpt = () =>
  new Option("--images <source>", "image source: official (registry images) or offline (built here from Debian)").choices([
    "official",
    "offline",
  ]);

formatOpts(
  program
    .command("run")
    .description("start the scenario's topology, drive load, inject its faults, tear down, write the run record")
    .argument("<scenario>", "scenario YAML file")
    .addOption(imagesOpt())
    .option("--out <dir>", "where run folders go (default ./reports)")
    .option("--dry-run", "print the plan (containers, links, load, faults) and start nothing")
    .option(
      "--runtime <name>",
      "docker (this machine's engine, the default) or swarm (the nodes of $CASCADE_SWARM_CLUSTER, default /run/cascade-swarm/cluster.json)",
    ),
).action(
  async (file: string, o: { images?: string; out?: string; format?: OutputFormat; json?: boolean; dryRun?: boolean; runtime?: string }) =>
    process.exit(await (await import("./run.js")).runCommand(file, { ...o, format: formatOf(o) })),
);

program
  .command("gameday")
  .description(
    "bring the scenario's topology up, drive its load, and serve a local page to run the exercise by hand: live charts, faults, load controls, notes, halt; the record is a run's",
  )
  .argument("<scenario>", "scenario YAML file (its timeline's faults are optional)")
  .addOption(imagesOpt())
  .option("--out <dir>", "where run folders go (default ./reports)")
  .option("--port <n>", "port of the page on 127.0.0.1 (default: any free one)")
  .option("--export <file>", "at the end, write the session as a scenario that replays it (cascade run <file>)")
  .option("--max <duration>", "the session ends by itself after this long (default 30m)")
  .action(async (file: string, o: { images?: string; out?: string; port?: string; export?: string; max?: string }) =>
    process.exit(await (await import("./gameday.js")).gamedayCommand(file, o)),
  );

formatOpts(
  program
    .command("analyze")
    .description(
      "re-run the analysis (verdict, mechanisms, gate) on a stored run folder; writes analysis.json and junit.xml; no Docker needed",
    )
    .argument("<run-dir>", "a folder under reports/<scenario>/")
    .option("--out <dir>", "write analysis.json and junit.xml there instead of into the run folder")
    .option(
      "--black-box",
      "judge without the app's own /metrics: from the dependencies' counters (Postgres, memcached, Redis, HAProxy) and the users alone",
    ),
).action(async (dir: string, o: { out?: string; format?: OutputFormat; json?: boolean; blackBox?: boolean }) =>
  process.exit(
    await (await import("./analyze.js")).analyzeCommand(dir, {
      ...(o.out ? { out: o.out } : {}),
      format: formatOf(o),
      blackBox: o.blackBox === true,
    }),
  ),
);

program
  .command("report")
  .description("write the run's report again from its folder: report.html, summary.md, charts/ (PNG, SVG, vega-lite); no Docker needed")
  .argument("<run-dir>", "a folder under reports/<scenario>/")
  .option("--out <dir>", "write the report there instead of into the run folder")
  .action(async (dir: string, o: { out?: string }) => process.exit(await (await import("./report.js")).reportCommand(dir, o)));

program
  .command("compare")
  .description(
    "one report with two runs side by side on the same axes (e.g. naive vs mitigated) and the change in each mechanism's numbers",
  )
  .argument("<runA>", "run folder A (e.g. the naive variant)")
  .argument("<runB>", "run folder B (e.g. the mitigated variant)")
  .option("--out <dir>", "where to write it (default reports/compare/<A>-vs-<B>/)")
  .action(async (a: string, b: string, o: { out?: string }) => process.exit(await (await import("./compare.js")).compareCommand(a, b, o)));

const collect = (v: string, prev: string[] = []) => [...prev, v];
program
  .command("sweep")
  .description(
    "the metastability map: run the scenario at every point of a grid (e.g. load × trigger length), classify each run (recovered / recovered late / metastable / setup did not hold) and draw the map; resumable",
  )
  .argument("<scenario>", "scenario YAML file")
  .requiredOption(
    "--vary <path=range>",
    "an axis: <path>=<from>..<to>/<step> or <path>=a,b,c; paths name scenario fields, list elements by name (load.rate, faults.brownout.duration); once or twice",
    collect,
  )
  .option(
    "--set <path=value>",
    "a fixed override at every point, recorded in sweep.json (e.g. baseline.require.db.cpu=20%..95%); repeatable",
    collect,
  )
  .option("--repeat <n>", "runs per point (the class is the majority; a split is shown)", "1")
  .option("--out <dir>", "the sweep folder (default reports/sweeps/<scenario>)")
  .option("--resume", "continue the sweep recorded in the folder: points already recorded are not run again")
  .option("--dry-run", "print the grid and the time estimate; start nothing")
  .option("--lock <file>", "hold this flock(1) lock file during each point's run (other Docker jobs interleave between points)")
  .option("--verbose", "print each run's own progress lines too")
  .addOption(imagesOpt())
  .action(async (file: string, o: SweepFlags) => process.exit(await (await import("./sweep.js")).sweepCommand(file, o)));

formatOpts(
  program
    .command("validate")
    .description("check scenario files and print every problem with file:line:col; starts nothing")
    .argument("<scenario...>", "scenario YAML files"),
).action(async (files: string[], o: { format?: OutputFormat; json?: boolean }) =>
  process.exit(await (await import("./validate.js")).validateCommand(files, { format: formatOf(o) })),
);

program
  .command("init")
  .description("write a scenario from a docker-compose file: services, builds, env, healthchecks, links; load, faults and SLO as stubs")
  .requiredOption("--from <compose>", "the docker-compose file to read")
  .option("--out <scenario>", "where to write the scenario (default cascade.yaml beside the compose file)")
  .option("--force", "overwrite the output file if it exists")
  .action(async (o: { from: string; out?: string; force?: boolean }) => process.exit(await (await import("./init.js")).initCommand(o)));

program
  .command("list")
  .description("list recorded runs (newest last), or the scenario catalog with --scenarios")
  .option("--scenarios", "list the scenarios in scenarios/ with their descriptions")
  .option("--json", "one JSON document: the runs (or scenarios) with their status, gate and path")
  .action(async (o: { scenarios?: boolean; json?: boolean }) => process.exit(await (await import("./list.js")).listCommand(o)));

const images = program.command("images").description("build or inspect the images the topology runs");
images
  .command("build")
  .description("make every role's image exist: pull official ones, or build offline from Debian packages")
  .addOption(imagesOpt())
  .option("--offline", "same as --images offline")
  .action(async (o: { images?: string; offline?: boolean }) => process.exit(await (await import("./images.js")).imagesBuildCommand(o)));
images
  .command("list")
  .description("show which image each role resolves to and whether it exists")
  .addOption(imagesOpt())
  .action(async (o: { images?: string }) => process.exit(await (await import("./images.js")).imagesListCommand(o)));

program
  .command("doctor")
  .description("check the Docker engine, the images and the tools the offline build needs")
  .addOption(imagesOpt())
  .action(async (o: { images?: string }) => process.exit(await (await import("./doctor.js")).doctorCommand(o)));

program
  .command("down")
  .description("remove containers and networks of runs whose lease expired (their reaper is gone); --all: every run")
  .option("--all", "also remove live runs (those still holding their lease), saying which")
  .option("--run <id>", "remove one run by id")
  .action(async (o: { all?: boolean; run?: string }) => process.exit(await (await import("./down.js")).downCommand(o)));

program
  .command("schema")
  .description("print the scenario JSON Schema (for editor completion)")
  .action(async () => {
    const { scenarioJsonSchema } = await import("../scenario/load.js");
    process.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
    process.exit(EXIT.ok);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // A configuration the user can fix is one line, not a stack trace.
  if (!(e instanceof SourceInvalid)) throw e;
  process.stderr.write(`${e.message}\n`);
  process.exit(EXIT.usage);
}
