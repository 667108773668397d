// report.html in a real browser: Debian's chromium driven by playwright-core, the page opened
// from disk. Every chart must render (an <svg> in each container), with no console error, no
// failed request and no request at all beyond the file itself; a hover shows a tooltip; markup
// in the scenario, fault and event texts shows as text and runs nothing. A full-page screenshot
// is saved to the run folder. Chromium missing is a failure, not a skip: `apt-get install -y chromium`.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPORT_FILES, writeReport } from "../../src/report/report.js";
import { XSS, XSS_IMG, copyRun, markupRun } from "./report-helpers.js";

const CHROMIUM = process.env.CASCADE_CHROMIUM ?? "/usr/bin/chromium";
const CHARTS = ["load", "latency", "dependencies", "saturation", "amplification"];
/** Stable places, so the screenshots can be looked at after a run (recreated each time). */
const ROOT = join(tmpdir(), "cascade-report-browser");

interface Visit {
  page: Page;
  problems: string[];
  dialogs: string[];
}

describe("report.html in headless Chromium", () => {
  let ctx: BrowserContext;
  let runDir: string;
  let markupDir: string;

  beforeAll(async () => {
    rmSync(ROOT, { recursive: true, force: true });
    mkdirSync(ROOT, { recursive: true });
    runDir = copyRun(join(ROOT, "run"));
    markupDir = markupRun(join(ROOT, "markup"));
    await writeReport(runDir);
    await writeReport(markupDir);
    if (!existsSync(CHROMIUM)) return;
    ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "cascade-chromium-profile-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1400, height: 1000 },
    });
  }, 90_000);

  afterAll(async () => {
    await ctx?.close();
  });

  async function open(dir: string): Promise<Visit> {
    expect(existsSync(CHROMIUM), `Chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` (Debian's package)`).toBe(
      true,
    );
    const page = await ctx.newPage();
    const problems: string[] = [];
    const dialogs: string[] = [];
    const url = `file://${join(dir, REPORT_FILES.html)}`;
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`failed request: ${r.url()} (${r.failure()?.errorText})`));
    page.on("request", (r) => {
      if (r.url() !== url) problems.push(`request beyond the file: ${r.url()}`);
    });
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(url);
    await page.waitForFunction(() => document.body.getAttribute("data-charts") === "done", null, { timeout: 30_000 });
    return { page, problems, dialogs };
  }

  it("renders every chart with no console error and no request, shows tooltips, and saves a screenshot", async () => {
    const { page, problems, dialogs } = await open(runDir);
    const charts = await page.$$eval(".vis", (els) =>
      els.map((e) => ({
        spec: e.getAttribute("data-spec"),
        rendered: e.getAttribute("data-rendered"),
        drawn: e.querySelector("svg.marks, canvas") !== null,
        marks: e.querySelectorAll("svg.marks path, svg.marks line").length,
      })),
    );
    expect(charts.map((c) => c.spec)).toEqual(CHARTS.map((c) => `spec-${c}`));
    for (const c of charts) {
      expect(c.rendered, c.spec ?? "").toBe("true");
      expect(c.drawn, c.spec ?? "").toBe(true);
      expect(c.marks, c.spec ?? "").toBeGreaterThan(20);
    }
    // Hovering the load chart shows the second's values.
    const svg = page.locator("#chart-load svg.marks");
    await svg.scrollIntoViewIfNeeded();
    const box = (await svg.boundingBox())!;
    for (let k = 0; k < 4; k++) await page.mouse.move(box.x + box.width * (0.4 + 0.01 * k), box.y + box.height * 0.6);
    await page.waitForSelector("#vg-tooltip-element.visible", { timeout: 5_000 });
    const tip = await page.textContent("#vg-tooltip-element");
    expect(tip).toMatch(/second\s*\d+/);
    expect(tip).toContain("offered");
    await page.mouse.move(0, 0);
    const shot = join(runDir, "report-screenshot.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    expect(problems).toEqual([]);
    expect(dialogs).toEqual([]);
    await page.close();
  }, 60_000);

  it("shows markup from the scenario, faults and events as text and runs none of it", async () => {
    const { page, problems, dialogs } = await open(markupDir);
    const text = (await page.textContent("main")) ?? "";
    expect(text).toContain(`Markup ${XSS} in the description`);
    expect(text).toContain(`toxiproxy said ${XSS}`);
    expect(text).toContain(`${XSS_IMG}-1 die`);
    // The fault named with markup is drawn as a chart label (text in the SVG), not as an element.
    const labels = await page.$$eval("#chart-load svg.marks text", (ts) => ts.map((t) => t.textContent));
    expect(labels).toContain(XSS);
    expect(await page.$$eval("main script, main img", (els) => els.length)).toBe(0);
    await page.screenshot({ path: join(markupDir, "report-screenshot.png"), fullPage: true });
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});
