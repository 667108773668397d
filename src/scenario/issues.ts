// The one error type scenario loading throws: a list of problems, each tied to a place in the file.

export interface ScenarioIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted data path such as `services.cache.memory` or `faults[2].link`; `(root)` for the whole file. */
  field: string;
  message: string;
}

/** Sorted by position so the report reads top to bottom like the file (stable for equal positions). */
export const sortIssues = (issues: readonly ScenarioIssue[]): ScenarioIssue[] =>
  [...issues].sort((a, b) => a.line - b.line || a.col - b.col);

/** One line per issue, `file:line:col  field  message`, in file order. */
export function formatIssues(issues: readonly ScenarioIssue[]): string {
  return sortIssues(issues)
    .map((i) => `${i.file}:${i.line}:${i.col}  ${i.field}  ${i.message}`)
    .join("\n");
}

export class ScenarioInvalid extends Error {
  override readonly name = "ScenarioInvalid";

  constructor(public readonly issues: ScenarioIssue[]) {
    super(formatIssues(issues));
  }
}

/** A value quoted back to its author, cut short: a message is one line, whatever was pasted. */
export const cut = (s: string, max = 60): string => (s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s);
