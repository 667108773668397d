// Renders a summary.md as a GitHub job summary shows it — GitHub-flavoured Markdown (marked, GFM
// tables), GitHub-like styles, no access to the run folder's files — and screenshots it in Debian's
// chromium, to look at what a CI user will see:
//   npm run render:summary -- reports/<scenario>/<stamp>/summary.md out.png
import { readFileSync, writeFileSync } from "node:fs";
import { marked } from "marked";
import { chromium } from "playwright-core";

const [md, out] = process.argv.slice(2);
if (!md || !out) {
  process.stderr.write("usage: render-summary <summary.md> <out.png>\n");
  process.exit(64);
}
const body = await marked.parse(readFileSync(md, "utf8"), { gfm: true });
const css = `
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; max-width: 1012px; margin: 24px auto; padding: 0 24px; }
h2 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; font-size: 1.5em; } h3 { font-size: 1.25em; }
table { border-collapse: collapse; margin: 12px 0; display: block; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; } tr:nth-child(2n) { background: #f6f8fa; }
code { background: #eff1f3; padding: .2em .4em; border-radius: 6px; font-size: 85%; }
blockquote { color: #59636e; border-left: .25em solid #d1d9e0; margin: 0; padding: 0 1em; }
sub { color: #59636e; }`;
const html = `<!doctype html><meta charset="utf-8"><style>${css}</style><body>${body}</body>`;
const browser = await chromium.launch({ executablePath: process.env.CASCADE_CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1060, height: 800 } });
  // No base URL: a relative image would be broken here exactly as in a job summary.
  await page.setContent(html, { waitUntil: "load" });
  const broken = await page.$$eval("img", (imgs) => imgs.filter((i) => !(i as HTMLImageElement).complete || (i as HTMLImageElement).naturalWidth === 0).length);
  await page.screenshot({ path: out, fullPage: true });
  writeFileSync(`${out}.html`, html);
  process.stdout.write(`${out}: ${broken} broken image(s)\n`);
} finally {
  await browser.close();
}
