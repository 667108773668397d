// Reading a scenario file: YAML → schema → cross-field checks, collecting every problem with its
// line and column instead of stopping at the first, so one edit-run cycle fixes them all.
import { isUtf8 } from "node:buffer";
import { statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { isAlias, isScalar, LineCounter, parseDocument, visit, type Document } from "yaml";
import { z } from "zod";
import { cut, type ScenarioIssue, ScenarioInvalid, sortIssues } from "./issues.js";
import { type DataPath, fieldName, locate, locateKey, type Pos } from "./positions.js";
import { Scenario } from "./schema.js";
import { checkScenario } from "./semantics.js";
import { fromZod, type PathIssue } from "./zod-issues.js";

export { formatIssues, type ScenarioIssue, ScenarioInvalid } from "./issues.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** At most this many problems are located and printed; the count of the rest is given. */
export const MAX_ISSUES = 50;

/** Where a field of a valid scenario is written (its nearest ancestor when the key is absent: a
 * default), from the document the loader read: for a command that refuses a field another accepts. */
export type Locate = (path: DataPath) => Pos;

/** Parses and validates scenario text; `file` is only used to label issues. Throws ScenarioInvalid. */
export function parseScenario(text: string, file: string, baseDir?: string): Scenario {
  return parseLocated(text, file, baseDir).scenario;
}

/** parseScenario, keeping the parsed document's positions. */
function parseLocated(text: string, file: string, baseDir?: string): { scenario: Scenario; locate: Locate } {
  try {
    return parseChecked(text, file, baseDir);
  } catch (e) {
    // Thousands of nested maps overflow the stack of the YAML reader or of a check walking them.
    if (e instanceof RangeError)
      throw new ScenarioInvalid([
        { file, line: 1, col: 1, field: "(file)", message: `the YAML is nested too deep to read (${e.message})` },
      ]);
    throw e;
  }
}

/** Deeper than any scenario needs; past it the YAML reader's recursion can overflow the stack. */
export const MAX_NESTING = 64;

/** A line indented or bracketed deeper than MAX_NESTING levels (2 columns a level), found by a
 * linear scan before the YAML reader recurses into it. */
function tooDeep(text: string): { line: number; col: number; what: string } | undefined {
  let flow = 0;
  let line = 1;
  let col = 1;
  let indent = 0;
  let atStart = true;
  let quote: string | null = null;
  for (const ch of text) {
    if (ch === "\n") {
      line++;
      col = 1;
      indent = 0;
      atStart = true;
      quote = null;
      continue;
    }
    if (atStart && ch === " ") indent++;
    else if (atStart) {
      atStart = false;
      if (indent > 2 * MAX_NESTING) return { line, col, what: `indented ${indent} columns` };
    }
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "#")
      quote = "\n"; // a comment: nothing counts to the end of the line
    else if (ch === "{" || ch === "[") {
      if (++flow > MAX_NESTING) return { line, col, what: `${flow} brackets deep` };
    } else if (ch === "}" || ch === "]") flow = Math.max(0, flow - 1);
    col++;
  }
  return undefined;
}

function parseChecked(text: string, file: string, baseDir?: string): { scenario: Scenario; locate: Locate } {
  const deep = tooDeep(text);
  if (deep)
    throw new ScenarioInvalid([
      { file, line: deep.line, col: deep.col, field: "(syntax)", message: `${deep.what}: a scenario nests at most ${MAX_NESTING} levels` },
    ]);
  const lc = new LineCounter();
  // prettyErrors off: we print our own one-line position, not yaml's multi-line excerpt.
  // uniqueKeys off: yaml checks each key against every earlier one (quadratic: 40k keys took
  // 15 s); duplicateKeys does the same check with a Set per map.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  const issue = (line: number, col: number, field: string, message: string): ScenarioIssue => ({ file, line, col, field, message });

  // Broken YAML makes every later position unreliable, so syntax errors are reported alone.
  const syntax = [
    ...doc.errors.map((e) => {
      const { line, col } = lc.linePos(e.pos[0]);
      return issue(line, col, "(syntax)", e.message);
    }),
    ...unresolvedAliases(doc, lc).map(({ line, col, name }) => issue(line, col, "(syntax)", `unknown alias *${name}`)),
    ...duplicateKeys(doc, lc).map(({ line, col, key }) =>
      issue(
        line,
        col,
        "(syntax)",
        key === "" ? "a key must be a plain name, not a mapping or a list" : `Map keys must be unique: "${cut(key)}" appears twice`,
      ),
    ),
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
  const found: PathIssue[] = [
    ...(result.success ? [] : fromZod(result.error.issues, raw)),
    ...(isObject(raw) ? checkScenario(raw) : []),
    ...(result.success && baseDir !== undefined ? resolveBuilds(result.data, baseDir) : []),
  ];
  if (!result.success || found.length) {
    // Past a screenful the rest is the same mistake again; locating each costs a walk of the
    // document, so thousands of them (a generated file) would take seconds for nothing.
    const shown = found.slice(0, MAX_ISSUES);
    const more = found.length - shown.length;
    const issues = shown.map((p) => {
      const last = p.path[p.path.length - 1];
      const { line, col } = p.atKey && last !== undefined ? locateKey(doc, lc, p.path.slice(0, -1), String(last)) : locate(doc, lc, p.path);
      return issue(line, col, fieldName(p.path), p.message);
    });
    const sorted = sortIssues(issues);
    if (more > 0) sorted.push(issue(sorted.at(-1)?.line ?? 1, 1, "(file)", `… and ${more} more problem(s) not shown`));
    throw new ScenarioInvalid(sorted);
  }
  return { scenario: result.data, locate: (path) => locate(doc, lc, path) };
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

/** Keys repeated within one mapping, each at the position of its second use; and keys that are
 * mappings or lists (reported with key ""). */
function duplicateKeys(doc: Document, lc: LineCounter): { line: number; col: number; key: string }[] {
  const out: { line: number; col: number; key: string }[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) {
          // A mapping or sequence as a key (`? {a: 1}`): no scenario field is one, and converting
          // it would print a warning of yaml's own instead of a located problem.
          if (pair.key !== null && typeof pair.key === "object" && "range" in pair.key)
            out.push({ ...lc.linePos((pair.key as { range?: [number] }).range?.[0] ?? 0), key: "" });
          continue;
        }
        const v = pair.key.value;
        if (seen.has(v)) out.push({ ...lc.linePos(pair.key.range?.[0] ?? 0), key: String(v) });
        seen.add(v);
      }
    },
  });
  return out;
}

/** A scenario is a page or two of YAML; past this it is something else, and parsing it would only
 * take long and say little. */
export const MAX_SCENARIO_BYTES = 1024 * 1024;

/** Reads and parses a scenario file; an unreadable, oversized, binary or non-UTF-8 file is
 * reported like any other issue, in one line, without echoing its content. */
export async function loadScenario(file: string): Promise<{ scenario: Scenario; source: string; locate: Locate }> {
  const fail = (message: string) => new ScenarioInvalid([{ file, line: 1, col: 1, field: "(file)", message }]);
  let bytes: Buffer;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw fail("is a directory, not a scenario file");
    if (st.size > MAX_SCENARIO_BYTES)
      throw fail(`the file is ${(st.size / 2 ** 20).toFixed(1)} MiB; a scenario may be at most ${MAX_SCENARIO_BYTES / 2 ** 20} MiB`);
    bytes = await readFile(file);
  } catch (e) {
    if (e instanceof ScenarioInvalid) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory, not a scenario file" : (e as Error).message);
  }
  const encoding = notUtf8Text(bytes);
  if (encoding) throw fail(encoding);
  const source = bytes.toString("utf8").replace(/^\uFEFF/, "");
  return { ...parseLocated(source, file, dirname(resolve(file))), source };
}

/** Why the bytes are not a UTF-8 text file (UTF-16, binary), or undefined when they are. */
export function notUtf8Text(b: Buffer): string | undefined {
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff))
    return "the file is UTF-16; save it as UTF-8 (YAML scenarios are read as UTF-8)";
  if (b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return "the file is a PNG image, not a scenario";
  const head = b.subarray(0, 8192);
  if (head.includes(0)) {
    // UTF-16 without a byte-order mark: every other byte of ASCII text is zero.
    const zeros = head.filter((x) => x === 0).length;
    return zeros > head.length / 3
      ? "the file looks like UTF-16 (every other byte is zero); save it as UTF-8"
      : "the file is binary (it contains NUL bytes), not a YAML scenario";
  }
  if (!isUtf8(b)) return "the file is not valid UTF-8; save it as UTF-8";
  return undefined;
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

/** Each `build:` made absolute against the scenario's folder (in place), and a context that is not
 * a folder holding its Dockerfile reported at its field, before anything starts. */
function resolveBuilds(s: Scenario, baseDir: string): PathIssue[] {
  const out: PathIssue[] = [];
  const isFile = (p: string) => statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
  const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  for (const [name, svc] of Object.entries(s.services)) {
    if (svc.build === undefined) continue;
    const b = typeof svc.build === "string" ? { context: svc.build } : svc.build;
    const at = typeof svc.build === "string" ? ["services", name, "build"] : ["services", name, "build", "context"];
    const context = isAbsolute(b.context) ? b.context : resolve(baseDir, b.context);
    const dockerfile = b.dockerfile ?? "Dockerfile";
    if (!isDir(context)) out.push({ path: at, message: `no folder ${context} (a build context is relative to the scenario file)` });
    else if (!isFile(resolve(context, dockerfile)))
      out.push({ path: at, message: `${relative(baseDir, resolve(context, dockerfile)) || dockerfile}: no Dockerfile there` });
    else if (relative(context, resolve(context, dockerfile)).startsWith(".."))
      out.push({ path: at, message: `the Dockerfile ${dockerfile} lies outside its context` });
    svc.build = { ...b, context };
  }
  return out;
}
