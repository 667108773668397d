// A game day end to end on a real topology, driven from its page in Debian's Chromium
// (playwright-core): join with a name, apply a latency toxic and a cache kill from the forms, watch
// the charts move, press HALT (the load stops and every fault is reverted within 2 s), end the
// session. Then the record: every action an event with its time and who pressed it, the faults
// reverted, no container left, `cascade report` and `cascade analyze` work on the folder; and the
// exported scenario, replayed with `cascade run`, gets the same verdict. Screenshots of the page
// during the faults are saved under /tmp/gameday-*.png to be looked at.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Analysis } from "../../src/analyze/analyze.js";
import type { FaultEvent } from "../../src/faults/scheduler.js";
import { Schedule } from "../../src/load/schedule.js";
import type { LoadSample } from "../../src/load/driver.js";
import { readSamples } from "../../src/observe/record.js";
import { ROOT } from "../../src/paths.js";
import type { ActionLine } from "../../src/report/model.js";
import { parseScenario } from "../../src/scenario/load.js";
import { allManagedContainers, type CliRun, cli, objectsOfRun, readNdjson } from "./helpers.js";

const CHROMIUM = process.env.CASCADE_CHROMIUM ?? "/usr/bin/chromium";
const FIXTURE = join(ROOT, "test/fixtures/scenarios/gameday.yaml");
const out = mkdtempSync(join(tmpdir(), "cascade-gameday-"));
const exported = join(out, "played.yaml");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** an action line of events.ndjson (a halt's says how long it took) */
type Action = ActionLine & { halt_ms?: number };

describe("cascade gameday, driven from its page in Chromium", () => {
  let run: CliRun;
  let ctx: BrowserContext;
  let page: Page;
  let url: string;
  let runId: string;
  let dir: string;
  const problems: string[] = [];
  /** wall-clock ms of each click, to check the recorded times against */
  const clicked: Record<string, number> = {};
  let haltSeenMs = 0;
  let exitCode: number | null = null;

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium`).toBe(true);
    run = cli(["gameday", FIXTURE, "--out", out, "--max", "90s", "--export", exported]);
    url = (await run.waitFor(/page \(only this URL can drive the session\): (\S+)/, 30_000))[1] as string;
    ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "cascade-chromium-profile-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
      viewport: { width: 1400, height: 1100 },
    });
    page = await ctx.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("request", (r) => {
      if (!r.url().startsWith(new URL(url).origin)) problems.push(`request off the page's origin: ${r.url()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    if (run && run.child.exitCode === null) run.child.kill("SIGINT");
  });

  it("refuses requests without the token and from another origin (403), before and during the session", async () => {
    const { origin, searchParams } = new URL(url);
    const token = searchParams.get("token") as string;
    expect((await fetch(`${origin}/`)).status).toBe(403);
    expect((await fetch(`${origin}/api/state`)).status).toBe(403);
    expect((await fetch(`${origin}/events`)).status).toBe(403);
    expect((await fetch(url, { headers: { origin: "http://evil.example" } })).status).toBe(403);
    const halt = await fetch(`${origin}/api/action`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-cascade-token": token, origin: "http://evil.example" },
      body: JSON.stringify({ action: "halt", by: "mallory" }),
    });
    expect(halt.status).toBe(403);
    expect((await fetch(url)).status).toBe(200);
  });

  it("opens the page, joins with a name, and draws live charts once the load runs", async () => {
    await page.goto(url);
    await page.fill("#name", "Ada");
    await page.click("#join-form button");
    await page.waitForFunction(() => document.body.dataset.state === "running", null, { timeout: 180_000 });
    runId = (run.stderr().match(/topology up: run ([0-9a-f]+)/) as RegExpMatchArray)[1] as string;
    await page.waitForFunction(() => Number(document.body.dataset.chartUpdates ?? 0) >= 2, null, { timeout: 20_000 });
    for (const c of ["load", "latency", "dependencies"]) expect(await page.locator(`#chart-${c} svg`).count(), c).toBeGreaterThan(0);
    // every fault kind has a form
    expect(await page.locator("#fault-kind option").count()).toBe(20);
  });

  it("applies a latency toxic and a kill from the forms; the charts move", async () => {
    // a baseline of 6 s first (the analysis judges the fault against it)
    await page.waitForFunction(() => Number.parseFloat(document.getElementById("clock")?.textContent ?? "0") >= 6, null, {
      timeout: 20_000,
    });
    const before = { updates: Number(await page.getAttribute("body", "data-chart-updates")), svg: await page.innerHTML("#chart-latency") };
    await page.selectOption("#fault-kind", "latency");
    await page.selectOption('#fault-fields select[name="link"]', "app->cache");
    await page.fill('#fault-fields input[name="latency"]', "150ms");
    clicked.latency = Date.now();
    await page.click("#fault-apply");
    await page.waitForSelector('#active li[data-label="latency-app-cache"]', { timeout: 10_000 });
    await sleep(3_500);
    await page.screenshot({ path: "/tmp/gameday-latency.png", fullPage: true });
    const after = { updates: Number(await page.getAttribute("body", "data-chart-updates")), svg: await page.innerHTML("#chart-latency") };
    expect(after.updates).toBeGreaterThanOrEqual(before.updates + 2);
    expect(after.svg).not.toBe(before.svg);
    // the latency chart shades the active fault with its label
    expect(after.svg).toContain("latency-app-cache");

    await page.selectOption("#fault-kind", "kill");
    await page.selectOption('#fault-fields select[name="service"]', "cache");
    clicked.kill = Date.now();
    await page.click("#fault-apply");
    await page.waitForFunction(() => (document.getElementById("fault-msg")?.textContent ?? "").startsWith("applied kill-cache"), null, {
      timeout: 10_000,
    });
    await page.fill("#note", "cache killed: watch the database");
    await page.click("#note-form button");
    await sleep(4_000);
    await page.screenshot({ path: "/tmp/gameday-kill.png", fullPage: true });
    expect(await page.innerHTML("#chart-load")).toContain("kill-cache");
  });

  it("HALT stops the load and reverts every fault within 2 s", async () => {
    clicked.halt = Date.now();
    await page.click("#halt");
    await page.waitForFunction(() => (document.getElementById("halt-result")?.textContent ?? "").startsWith("halted in"), null, {
      timeout: 15_000,
    });
    haltSeenMs = Date.now() - clicked.halt;
    console.log(`halt: ${await page.textContent("#halt-result")}; seen on the page ${haltSeenMs} ms after the click`);
    expect(haltSeenMs).toBeLessThan(2_000);
    await page.waitForFunction(() => document.querySelectorAll("#active li[data-label]").length === 0, null, { timeout: 5_000 });
    await page.screenshot({ path: "/tmp/gameday-halted.png", fullPage: true });
    await page.click("#end");
    exitCode = await Promise.race([run.exit, sleep(90_000).then(() => "timeout" as const)]).then((c) => (c === "timeout" ? null : c));
    expect(exitCode, run.stderr().slice(-3000)).not.toBeNull();
    dir = (run.stderr().match(/record: (\S+)/) as RegExpMatchArray)[1] as string;
    expect(problems).toEqual([]);
  });

  it("records every action with its time and who did it; faults reverted; no container left", async () => {
    const events = readNdjson<Record<string, unknown>>(join(dir, "events.ndjson"));
    const faults = events.filter((e) => e.type === "fault") as unknown as FaultEvent[];
    const actions = events.filter((e) => e.type === "action") as unknown as Action[];
    const apply = (name: string) => faults.find((f) => f.action === "apply" && f.fault === name) as FaultEvent;
    const lat = apply("latency-app-cache");
    const kill = apply("kill-cache");
    expect(lat.by).toBe("Ada");
    expect(kill.by).toBe("Ada");
    // Load start in wall-clock ms, from the record itself; each action within a second of its click.
    const t0 = Date.parse(lat.time) - lat.actual_ms;
    expect(Math.abs(t0 + lat.actual_ms - (clicked.latency as number))).toBeLessThan(1_000);
    expect(Math.abs(t0 + kill.actual_ms - (clicked.kill as number))).toBeLessThan(1_000);
    const halt = actions.find((a) => a.action === "halt") as Action;
    expect(halt.by).toBe("Ada");
    expect(Math.abs(t0 + halt.at_ms - (clicked.halt as number))).toBeLessThan(1_000);
    expect(halt.halt_ms).toBeLessThan(2_000);
    console.log(`halt took ${halt.halt_ms} ms in the session (recorded), ${haltSeenMs} ms click to page`);
    expect(actions.map((a) => a.action)).toEqual(["join", "note", "halt", "end"]);
    expect(actions.find((a) => a.action === "note")?.text).toBe("note: cache killed: watch the database");
    // the latency toxic reverted by the halt, by Ada; nothing failed
    const revert = faults.find((f) => f.action === "revert" && f.fault === "latency-app-cache") as FaultEvent;
    expect(revert.by).toBe("Ada");
    expect(revert.actual_ms).toBeGreaterThanOrEqual(halt.at_ms);
    expect(revert.actual_ms - halt.at_ms).toBeLessThan(2_000);
    expect(faults.filter((f) => f.action === "error")).toEqual([]);
    // the load stopped at the halt: no arrival after it
    const played = parseScenario(readFileSync(join(dir, "scenario.yaml"), "utf8"), "scenario.yaml");
    const planned = played.load.phases.reduce((a, p) => a + p.duration, 0);
    expect(Math.abs(planned - halt.at_ms)).toBeLessThan(50);
    const load = readSamples<LoadSample>(dir).load;
    expect(load.reduce((a, s) => a + s.offered, 0)).toBe(new Schedule(played.load.phases).total);
    // arrivals only in the seconds before the halt; answers still coming back may add one more second
    // (a CI run recorded 16 samples for 15 planned seconds, the offered total exactly the plan's)
    expect(load.filter((s) => s.offered > 0).length).toBeLessThanOrEqual(Math.ceil(planned / 1000));
    expect(load.length).toBeLessThanOrEqual(Math.ceil(planned / 1000) + 1);
    // nothing left on the engine
    expect(await objectsOfRun(runId)).toEqual({ containers: 0, networks: 0 });
    expect(await allManagedContainers()).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as { status: string; teardown?: unknown };
    expect(result.status).toBe("completed");
  });

  it("cascade report and cascade analyze work on the game day's folder, the faults shaded", async () => {
    const report = cli(["report", dir, "--out", join(out, "report")]);
    expect(await report.exit, report.stderr()).toBe(0);
    const spec = readFileSync(join(out, "report", "charts", "load.vl.json"), "utf8");
    expect(spec).toContain("latency-app-cache");
    expect(spec).toContain("kill-cache");
    const html = readFileSync(join(out, "report", "report.html"), "utf8");
    expect(html).toContain("note: cache killed: watch the database");
    const analyze = cli(["analyze", dir, "--json", "--out", join(out, "analyze")]);
    const code = await analyze.exit;
    expect(code).toBe(exitCode);
  });

  it("the exported scenario validates, and replayed with cascade run gets the same verdict", async () => {
    expect(existsSync(exported), run.stderr().slice(-2000)).toBe(true);
    const validate = cli(["validate", exported]);
    expect(await validate.exit, validate.stdout() + validate.stderr()).toBe(0);
    const live = JSON.parse(readFileSync(join(dir, "analysis.json"), "utf8")) as Analysis;
    const replay = cli(["run", exported, "--out", join(out, "replay"), "--json"]);
    const code = await replay.exit;
    const result = JSON.parse(replay.stdout()) as { dir: string; gate: { outcome: string } };
    const again = JSON.parse(readFileSync(join(result.dir, "analysis.json"), "utf8")) as Analysis;
    console.log(
      `live: verdict ${live.verdict}, primary ${live.primary?.name ?? "-"}, gate ${live.gate?.outcome} (exit ${exitCode}); ` +
        `replay: verdict ${again.verdict}, primary ${again.primary?.name ?? "-"}, gate ${again.gate?.outcome} (exit ${code})`,
    );
    expect(again.verdict).toBe(live.verdict);
    expect(code).toBe(exitCode);
  });
});
