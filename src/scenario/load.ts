// Reading a scenario file: YAML → schema → cross-field checks, collecting every problem with its
// line and column instead of stopping at the first, so one edit-run cycle fixes them all.
import { readFile } from "node:fs/promises";
import { isAlias, LineCounter, parseDocument, visit, type Document } from "yaml";
import { z } from "zod";
import { type ScenarioIssue, ScenarioInvalid, sortIssues } from "./issues.js";
import { fieldName, locate, locateKey } from "./positions.js";
import { Scenario } from "./schema.js";
import { checkScenario } from "./semantics.js";
import { fromZod, type PathIssue } from "./zod-issues.js";

export { formatIssues, type ScenarioIssue, ScenarioInvalid } from "./issues.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses and validates scenario text; `file` is only used to label issues. Throws ScenarioInvalid. */
export function parseScenario(text: string, file: string): Scenario {
  const lc = new LineCounter();
  // prettyErrors off: we print our own one-line position, not yaml's multi-line excerpt.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const issue = (line: number, col: number, field: string, message: string): ScenarioIssue => ({ file, line, col, field, message });

  // Broken YAML makes every later position unreliable, so syntax errors are reported alone.
  const syntax = [
    ...doc.errors.map((e) => {
      const { line, col } = lc.linePos(e.pos[0]);
      return issue(line, col, "(syntax)", e.message);
    }),
    ...unresolvedAliases(doc, lc).map(({ line, col, name }) => issue(line, col, "(syntax)", `unknown alias *${name}`)),
  ];
  if (syntax.length) throw new ScenarioInvalid(sortIssues(syntax));
  if (doc.contents === null)
    throw new ScenarioInvalid([issue(1, 1, "(root)", "the file is empty; a scenario needs at least name, services and load")]);

  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (e) {
    // Alias bombs and similar: yaml refuses to expand them rather than exhausting memory.
    throw new ScenarioInvalid([issue(1, 1, "(root)", `cannot read the YAML: ${(e as Error).message}`)]);
  }

  const result = Scenario.safeParse(raw);
  const found: PathIssue[] = [...(result.success ? [] : fromZod(result.error.issues, raw)), ...(isObject(raw) ? checkScenario(raw) : [])];
  if (!result.success || found.length) {
    const issues = found.map((p) => {
      const last = p.path[p.path.length - 1];
      const { line, col } = p.atKey && last !== undefined ? locateKey(doc, lc, p.path.slice(0, -1), String(last)) : locate(doc, lc, p.path);
      return issue(line, col, fieldName(p.path), p.message);
    });
    throw new ScenarioInvalid(sortIssues(issues));
  }
  return result.data;
}

// yaml only notices an alias without an anchor when converting to JS, and then throws on the
// first one; finding them up front reports each at its position.
function unresolvedAliases(doc: Document, lc: LineCounter): { line: number; col: number; name: string }[] {
  const out: { line: number; col: number; name: string }[] = [];
  visit(doc, {
    Alias(_, node) {
      if (isAlias(node) && node.resolve(doc) === undefined) out.push({ ...lc.linePos(node.range?.[0] ?? 0), name: node.source });
    },
  });
  return out;
}

/** Reads and parses a scenario file; an unreadable file is reported like any other issue. */
export async function loadScenario(file: string): Promise<{ scenario: Scenario; source: string }> {
  let source: string;
  try {
    source = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory, not a scenario file" : (e as Error).message;
    throw new ScenarioInvalid([{ file, line: 1, col: 1, field: "(file)", message }]);
  }
  return { scenario: parseScenario(source, file), source };
}

/** JSON Schema of the scenario as authors write it (units as strings), for editor completion. */
export function scenarioJsonSchema(): object {
  return {
    ...z.toJSONSchema(Scenario, { io: "input", unrepresentable: "any" }),
    title: "Cascade scenario",
    description:
      "A Cascade chaos/load-test scenario: services on Docker, the links between them, the load to offer, the faults to inject and the SLO to judge the run by.",
  };
}
