// A metric selector as PromQL writes one, `http_requests_total{code=~"5..", method="GET"}`: a
// metric name and matchers on its labels (= != =~ !~; regexes anchored at both ends, as PromQL's).
// Parsed when the scenario is read, so a typo is an error naming the field, not an empty series.

export type MatchOp = "=" | "!=" | "=~" | "!~";
export interface Matcher {
  label: string;
  op: MatchOp;
  value: string;
}
export interface Selector {
  name: string;
  matchers: Matcher[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** The selector, or why it is not one ("at column 12: …"). */
export function parseSelector(text: string): Selector | string {
  let i = 0;
  const rest = () => text.slice(i);
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const at = (what: string) => `at column ${i + 1}: ${what}`;
  ws();
  const name = NAME.exec(rest())?.[0];
  if (!name) return at("expected a metric name");
  i += name.length;
  ws();
  const matchers: Matcher[] = [];
  if (text[i] === "{") {
    i++;
    for (;;) {
      ws();
      if (text[i] === "}") break;
      const label = LABEL.exec(rest())?.[0];
      if (!label) return at("expected a label name or '}'");
      i += label.length;
      ws();
      const op = (["=~", "!~", "!=", "="] as const).find((o) => text.startsWith(o, i));
      if (!op) return at(`expected =, !=, =~ or !~ after ${label}`);
      i += op.length;
      ws();
      if (text[i] !== '"') return at(`expected a double-quoted value for ${label}`);
      i++;
      let value = "";
      for (;;) {
        const c = text[i++];
        if (c === undefined) return at(`the value of ${label} is not closed with '"'`);
        if (c === '"') break;
        if (c === "\\") {
          const e = text[i++];
          value += e === "n" ? "\n" : e === "\\" || e === '"' ? e : `\\${e ?? ""}`;
        } else value += c;
      }
      if (op === "=~" || op === "!~")
        try {
          new RegExp(`^(?:${value})$`);
        } catch {
          return `the regular expression for ${label} does not compile: ${JSON.stringify(value)}`;
        }
      if (matchers.some((m) => m.label === label && m.op === op && m.value === value)) return at(`${label}${op}"${value}" twice`);
      matchers.push({ label, op, value });
      ws();
      if (text[i] === ",") i++;
      else if (text[i] !== "}") return at("expected ',' or '}'");
    }
    i++;
    ws();
  }
  if (i < text.length) return at(`unexpected ${JSON.stringify(text.slice(i, i + 12))}`);
  return { name, matchers };
}

const quote = (v: string) => JSON.stringify(v);

/** The selector as PromQL writes it: what a report names as the source of a number. */
export function selectorText(s: Selector): string {
  return s.matchers.length ? `${s.name}{${s.matchers.map((m) => `${m.label}${m.op}${quote(m.value)}`).join(",")}}` : s.name;
}
