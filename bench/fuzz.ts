// Mutations of scenario files for the validator fuzz (bench/fuzz-validate.ts and its unit test):
// deterministic from a seed, so a failing input can be made again from its number.

/** mulberry32: a small, good-enough PRNG with a 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  "",
  "0",
  "-1",
  "1e308",
  "-1e308",
  "1e-320",
  "NaN",
  ".inf",
  "-.inf",
  "null",
  "~",
  "true",
  "[]",
  "{}",
  "[[[[",
  "}}}",
  "&a",
  "*a",
  "*nope",
  "!!binary",
  "!!str",
  "<<: *a",
  "? ",
  "- ",
  ": ",
  "'",
  '"',
  "\\",
  "\t",
  "\u0000",
  "\uFEFF",
  "é",
  "💥",
  "%",
  "50%",
  "200%",
  "1ms",
  "0s",
  "8000h",
  "99999999999999999999",
  "2147483648ms",
  "1b",
  "9".repeat(400),
  "x".repeat(5000),
  "toxiproxy",
  "users",
  "load",
  "kill",
  "latency",
  "app->cache",
  "cache->app",
  "a->",
  "->",
  "SIGKILL",
  "SIGFOO",
  "memory-hog",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an env reference (${NAME}), the scenario syntax
  "${X}",
];

/** One mutated text of `base`: 1 to 4 edits (replace, insert, delete, duplicate, nest, truncate). */
export function mutate(base: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  let s = base;
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const lines = s.split("\n");
    const i = Math.floor(rnd() * lines.length);
    const line = lines[i] ?? "";
    switch (Math.floor(rnd() * 9)) {
      case 0: // replace a value after a colon
        lines[i] = line.includes(":") ? `${line.slice(0, line.indexOf(":") + 1)} ${pick(TOKENS)}` : `${line}${pick(TOKENS)}`;
        break;
      case 1: // insert a token somewhere in the line
        {
          const at = Math.floor(rnd() * (line.length + 1));
          lines[i] = line.slice(0, at) + pick(TOKENS) + line.slice(at);
        }
        break;
      case 2: // delete a line
        lines.splice(i, 1);
        break;
      case 3: // duplicate a line (duplicate keys, repeated faults)
        lines.splice(i, 0, line);
        break;
      case 4: // re-indent
        lines[i] = " ".repeat(Math.floor(rnd() * 8)) + line.trimStart();
        break;
      case 5: // deep nesting
        lines[i] = `${line.replace(/:.*$/, ":")} ${"[".repeat(1 + Math.floor(rnd() * 3000))}`;
        break;
      case 6: // truncate the file
        return lines.slice(0, i).join("\n") + line.slice(0, Math.floor(rnd() * line.length));
      case 7: // many copies of a line (big lists, many faults)
        lines.splice(i, 0, ...Array.from({ length: Math.floor(rnd() * 3000) }, () => line));
        break;
      default:
        {
          // swap two lines
          const j = Math.floor(rnd() * lines.length);
          [lines[i], lines[j]] = [lines[j] ?? "", line];
        }
        break;
    }
    s = lines.join("\n");
  }
  return s;
}
