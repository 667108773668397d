// Maps a data path (as zod and the semantic checks report it) back to a line:col in the YAML
// source, so every issue can point at the text the author has to change.
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";

export type DataPath = readonly PropertyKey[];
export interface Pos {
  line: number;
  col: number;
}

const START: Pos = { line: 1, col: 1 };

function posOf(node: { range?: readonly number[] | null } | null | undefined, lc: LineCounter): Pos | undefined {
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : lc.linePos(offset);
}

// Compare keys as text: YAML `1:` is a number key but arrives as "1" in the parsed object.
const keyText = (key: unknown): string => (isScalar(key) ? String(key.value) : String(key));

/** An empty value (`memory:`) has no text of its own, so its key is the better place to point. */
const isEmptyScalar = (n: unknown): boolean => isScalar(n) && n.value === null && !n.source;

interface Walk {
  node: unknown;
  pos: Pos;
  complete: boolean;
}

// Like doc.getIn(path, true), but also remembers the deepest position reached on the way.
function walk(doc: Document, lc: LineCounter, path: DataPath): Walk {
  let node: unknown = doc.contents;
  let pos = posOf(doc.contents, lc) ?? START;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (!pair) return { node, pos, complete: false };
      const keyPos = posOf(pair.key as Node | null, lc);
      node = pair.value;
      pos = (isEmptyScalar(node) ? keyPos : posOf(node as Node | null, lc)) ?? keyPos ?? pos;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      node = node.items[seg];
      pos = posOf(node as Node, lc) ?? pos;
    } else return { node, pos, complete: false };
  }
  return { node, pos, complete: true };
}

/**
 * Position of the node at `path`. When part of the path is missing (a required key left out, a
 * default filled in by the schema), this is the nearest ancestor that exists.
 */
export const locate = (doc: Document, lc: LineCounter, path: DataPath): Pos => walk(doc, lc, path).pos;

/** Position of the key `key` itself in the mapping at `path` (for unknown keys and bad names). */
export function locateKey(doc: Document, lc: LineCounter, path: DataPath, key: string): Pos {
  const w = walk(doc, lc, path);
  const map = isAlias(w.node) ? w.node.resolve(doc) : w.node;
  if (w.complete && isMap(map)) {
    const pair = map.items.find((p) => keyText(p.key) === key);
    const p = posOf(pair?.key as Node | undefined, lc);
    if (p) return p;
  }
  return w.pos;
}

/** `services.cache.memory`, `faults[2].link`; odd keys are quoted so the path stays unambiguous. */
export function fieldName(path: DataPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const s = String(seg);
      out += /^[A-Za-z_$][\w$-]*$/.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
    }
  }
  return out || "(root)";
}
