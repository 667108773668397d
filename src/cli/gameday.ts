// cascade gameday: the scenario's topology and load, steered by hand from a local page. The run is
// a scripted run's (record, teardown, analysis, report); the page adds the hand actions. Ctrl-C
// ends the session as the End button does (halt, tear down, write the record); a second one
// interrupts the teardown's wait, a third exits at once.
import { writeFileSync } from "node:fs";
import { gateOfRun } from "../analyze/gate.js";
import { serveGameDay, type GameDayServer } from "../gameday/server.js";
import { GameDay } from "../gameday/session.js";
import { resolveSource } from "../images/source.js";
import { RecordUnwritable } from "../observe/record.js";
import { formatSummary } from "../report/summary.js";
import { runScenario } from "../run/run.js";
import { parseDuration } from "../scenario/units.js";
import { EXIT } from "./exit.js";
import { engineOrExit, loadOrExit, runLog, stopOnSignals } from "./preflight.js";

/** A session lasts at most this long unless --max says otherwise: every load is bounded. */
const DEFAULT_MAX = "30m";

export async function gamedayCommand(
  file: string,
  o: { images?: string; out?: string; port?: string; export?: string; max?: string },
): Promise<number> {
  const horizonMs = parseDuration(o.max ?? DEFAULT_MAX);
  if (horizonMs === undefined || horizonMs < 10_000 || horizonMs > 8 * 3_600_000) {
    process.stderr.write(`--max ${o.max}: a duration between 10s and 8h (e.g. 45m)\n`);
    return EXIT.usage;
  }
  const port = o.port === undefined ? 0 : Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port ${o.port}: a port number (0 = any free one)\n`);
    return EXIT.usage;
  }
  const loaded = await loadOrExit(file);
  if (typeof loaded === "number") return loaded;
  // The page steers the load live (rate, pause, burst) through one in-process driver; the shares of
  // several generator processes are not steered, so such a file is refused before anything starts.
  if (loaded.scenario.load.generators > 1) {
    const at = loaded.locate(["load", "generators"]);
    process.stderr.write(
      `${file}:${at.line}:${at.col}  load.generators  ${loaded.scenario.load.generators}: a game day steers its load live through one in-process driver; set generators: 1 (or remove it) to play this file\n1 problem(s); nothing was started.\n`,
    );
    return EXIT.invalidScenario;
  }
  const engine = await engineOrExit();
  if (engine !== undefined) return engine;
  const { source, from } = resolveSource(o.images);
  const session = new GameDay(loaded.scenario, loaded.source, { horizonMs, file: o.export ?? file });
  let server: GameDayServer;
  try {
    server = await serveGameDay(session, { port });
  } catch (e) {
    process.stderr.write(`cannot serve the page on 127.0.0.1:${port}: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
  const ac = new AbortController();
  const { log, leftovers } = runLog();
  const offSignals = stopOnSignals({
    first: (sig) => {
      process.stderr.write(`\n${sig}: ending the game day — halt, tear down, write the record…\n`);
      void session.end("(terminal)", `${sig}: session ended from the terminal`).catch(() => ac.abort(new Error(sig)));
    },
    second: (sig) => ac.abort(new Error(sig)),
    leftovers,
  });
  log(`game day: ${loaded.scenario.name} (images: ${source}, from ${from}); at most ${o.max ?? DEFAULT_MAX}`);
  log(`page (only this URL can drive the session): ${server.url}`);
  let result: Awaited<ReturnType<typeof runScenario>>;
  try {
    result = await runScenario(loaded.scenario, loaded.source, {
      source,
      fallbackOffline: from === "default",
      progress: log,
      signal: ac.signal,
      live: session,
      ...(o.out ? { outDir: o.out } : {}),
    });
  } catch (e) {
    await server.close();
    if (!(e instanceof RecordUnwritable)) throw e;
    process.stderr.write(`${e.message}\n`);
    return EXIT.infrastructure;
  } finally {
    offSignals();
  }
  await server.close();
  log(`record: ${result.dir}`);
  if (o.export) {
    try {
      writeFileSync(o.export, session.asPlayed().source);
      log(`the game day as a scenario (replay it with cascade run): ${o.export}`);
    } catch (e) {
      log(`could not export the scenario: ${(e as Error).message}`);
    }
  }
  // Judged as played: the record's scenario.yaml is the exported one.
  const played = (() => {
    try {
      return session.asPlayed().scenario;
    } catch {
      return loaded.scenario;
    }
  })();
  const gate = gateOfRun(result, played);
  process.stdout.write(`\n${formatSummary(result)}\n${gate.line}\n`);
  return gate.exit;
}
