// summary.md: the gate, the verdict, the causal path, the mechanisms with their numbers, the SLO
// table and where the charts are — text and tables only, so it renders as a GitHub job summary or
// a PR comment. Text from the scenario,
// faults and containers is escaped: HTML-significant characters become entities (CI summaries
// render HTML) and Markdown punctuation is backslash-escaped (no accidental links or tables).
import type { Analysis } from "../analyze/analyze.js";
import type { ReportModel } from "./model.js";
import {
  MECHANISM_TITLES,
  evidence,
  mechanismSentences,
  type ObjectiveRow,
  objectiveRows,
  pathSentences,
  recoverySentence,
  setupSentences,
  verdictWord,
} from "./narrative.js";

export function escapeMarkdown(s: unknown): string {
  return String(s ?? "")
    .replace(/[\r\n]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_[\]|#~!]/g, (c) => `\\${c}`);
}

const mark = (r: ObjectiveRow["result"]) => (r === "pass" ? "✅ pass" : r === "FAIL" ? "❌ FAIL" : "➖ missed, waived");

export function mdTable(head: string[], rows: string[][], right: number[] = []): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (right.includes(i) ? "---:" : "---")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

export function objectivesMd(a: Analysis): string[] {
  const rows = objectiveRows(a);
  if (!rows.length) return ["The scenario declares no SLO objective and no expectation."];
  return mdTable(
    ["", "objective", "target", "measured", "result"],
    rows.map((r) => [r.kind, escapeMarkdown(r.name), escapeMarkdown(r.target), escapeMarkdown(r.measured), mark(r.result)]),
  );
}

export function verdictMd(a: Analysis): string[] {
  const path = pathSentences(a);
  return [
    `**${verdictWord(a)}** — ${escapeMarkdown(a.summary)}`,
    ...(a.reasons.length ? ["", ...a.reasons.map((r) => `- ${escapeMarkdown(r)}`)] : []),
    ...(a.setup ? ["", ...setupSentences(a).map((s) => `- ${escapeMarkdown(s)}`)] : []),
    "",
    "**Causal path**",
    "",
    ...(path.length ? path.map((s, i) => `${i + 1}. ${escapeMarkdown(s)}`) : ["No fault was applied."]),
    "",
    "**Mechanisms**",
    "",
    ...mechanismSentences(a).map((s) => `- ${escapeMarkdown(s)}`),
    "",
    escapeMarkdown(recoverySentence(a)),
  ];
}

export function summaryMarkdown(m: ReportModel, charts: Array<{ title: string; png: string }>): string {
  const a = m.analysis;
  const sc = m.run.scenario;
  const shown = evidence(a).filter((e) => e.role !== "not found" || e.m.score >= 0.2);
  const lines = [
    `## Cascade: ${escapeMarkdown(sc.name)} — ${verdictWord(a)}`,
    "",
    ...(a.gate ? [`**${escapeMarkdown(a.gate.line)}**`, ""] : []),
    ...(sc.description ? [`> ${escapeMarkdown(sc.description)}`, ""] : []),
    ...verdictMd(a),
    "",
    "### Evidence",
    "",
    ...(shown.length
      ? mdTable(
          ["mechanism", "role", "score", "numbers", "measured by"],
          shown.map((e) => [
            escapeMarkdown(MECHANISM_TITLES[e.m.name] ?? e.m.name),
            e.role,
            e.m.score.toFixed(2),
            e.numbers.map(([k, v]) => `${escapeMarkdown(k)} ${escapeMarkdown(v)}`).join(" · "),
            escapeMarkdown((e.m.sources ?? []).join("; ")),
          ]),
          [2],
        )
      : ["No mechanism showed (every score under 0.2)."]),
    "",
    "### SLO and expectations",
    "",
    ...objectivesMd(a),
    "",
    "### Charts",
    "",
    // Named, not embedded: a CI job summary (or a PR comment) cannot show files of the run folder,
    // and a broken image is worse than a line that says where the picture is.
    `The charts are files of the run record, not images in this page: keep the run folder (\`${escapeMarkdown(m.meta.id)}\`) as a CI artifact and open \`report.html\` (interactive) or \`charts/*.png\`.`,
    "",
    ...mdTable(
      ["chart", "file"],
      charts.map((c) => [escapeMarkdown(c.title), `\`${escapeMarkdown(c.png)}\``]),
    ),
    "",
    `<sub>run ${escapeMarkdown(m.meta.id)} · ${m.series.seconds} s of load</sub>`,
    "",
  ];
  return lines.join("\n");
}
