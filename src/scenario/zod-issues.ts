// Rewrites zod issues into messages for someone editing YAML: "missing", "unknown field",
// "unknown kind ... valid kinds: ...", with the offending value quoted, instead of zod's
// TypeScript-flavoured wording ("expected record, received array").
import type { z } from "zod";
import { cut } from "./issues.js";
import type { DataPath } from "./positions.js";

type ZodIssue = z.core.$ZodIssue;

/** A problem at a data path; `atKey` points at the last segment's key rather than its value. */
export interface PathIssue {
  path: DataPath;
  message: string;
  atKey?: boolean;
}

const NOTHING = Symbol("nothing");

/** The raw (pre-schema) value at `path`, or NOTHING when the path does not exist. */
export function valueAt(raw: unknown, path: DataPath): unknown {
  let v: unknown = raw;
  for (const seg of path) {
    if (v === null || typeof v !== "object" || !Object.hasOwn(v, seg)) return NOTHING;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

const EXPECTED: Record<string, string> = {
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
};
const expectedName = (e: string): string => EXPECTED[e] ?? e;

/** How a YAML value reads back to its author. */
export function describe(v: unknown): string {
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return String(v);
  return cut(JSON.stringify(v) ?? String(v));
}

const list = (values: readonly unknown[]): string => values.map(String).join(", ");

function translate(issue: ZodIssue, raw: unknown): PathIssue[] {
  const path = issue.path;
  const value = valueAt(raw, path);
  const got = value === NOTHING ? "" : `, got ${describe(value)}`;
  const last = path[path.length - 1];
  switch (issue.code) {
    case "invalid_type":
      if (path.length === 0) return [{ path, message: `a scenario must be a mapping with name, services and load${got}` }];
      if (value === NOTHING) return [{ path, message: `missing; expected ${expectedName(issue.expected)}` }];
      return [{ path, message: `expected ${expectedName(issue.expected)}${got}` }];
    case "unrecognized_keys":
      return issue.keys.map((k) => ({ path: [...path, k], message: `unknown field ${cut(JSON.stringify(k))}`, atKey: true }));
    case "invalid_key": {
      const why = issue.issues.map((i) => i.message).join("; ");
      return [{ path, message: `invalid name ${cut(JSON.stringify(String(last)))}: ${why}`, atKey: true }];
    }
    case "invalid_value":
      if (last === "kind") return [{ path, message: kindMessage(value, issue.values) }];
      return [{ path, message: `must be one of: ${list(issue.values)}${got}` }];
    case "invalid_union":
      if (issue.discriminator !== undefined && "options" in issue && issue.options)
        return [{ path, message: kindMessage(value, issue.options, issue.discriminator) }];
      return [{ path, message: unionMessage(issue.errors, value === NOTHING ? undefined : got) }];
    case "too_small":
      return [{ path, message: rangeMessage(issue.origin, issue.minimum, issue.inclusive, "at least", "greater than", value) }];
    case "too_big":
      return [{ path, message: rangeMessage(issue.origin, issue.maximum, issue.inclusive, "at most", "less than", value) }];
    case "invalid_format":
      return [{ path, message: `${issue.message.replace(/^Invalid string: /, "")}${got}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

function kindMessage(value: unknown, valid: readonly unknown[], field = "kind"): string {
  const head = value === NOTHING ? `missing ${field}` : `unknown ${field} ${describe(value)}`;
  return `${head}; valid ${field}s: ${list(valid)}`;
}

// Plain unions here are unit fields (number | string); say which shapes would have been accepted.
// `got` is undefined when the field is missing altogether.
function unionMessage(branches: readonly ZodIssue[][], got: string | undefined): string {
  const expected = branches.flatMap((b) => b.filter((i) => i.code === "invalid_type").map((i) => expectedName(i.expected)));
  const want = expected.length ? `expected ${[...new Set(expected)].join(" or ")}` : "invalid value";
  return got === undefined ? `missing; ${want}` : `${want}${got}`;
}

function rangeMessage(
  origin: string,
  bound: number | bigint,
  inclusive: boolean | undefined,
  incl: string,
  excl: string,
  value: unknown,
): string {
  const rel = inclusive ? incl : excl;
  // A list or string is better shown by its position than repeated in the message.
  if (origin === "array") return `needs ${rel} ${bound} item${bound === 1 ? "" : "s"}`;
  if (origin === "string") return `needs ${rel} ${bound} character${bound === 1 ? "" : "s"}`;
  return typeof value === "number" ? `must be ${rel} ${bound} (got ${value})` : `must be ${rel} ${bound}`;
}

export const fromZod = (issues: readonly ZodIssue[], raw: unknown): PathIssue[] => issues.flatMap((i) => translate(i, raw));
