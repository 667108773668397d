// Writes the JSON Schemas of the run record's JSON files from their TypeScript types, so the
// documented format cannot drift from what the code writes: `npm run schema:record`.
// test/unit/record-schema.test.ts fails when the committed files are stale. typescript-json-schema
// resolves types through the compiler's checker, so types inferred from zod schemas come out whole.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as TJS from "typescript-json-schema";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export const RECORD_SCHEMAS = [
  { type: "StoredResult", file: "result.schema.json", title: "Cascade result.json" },
  { type: "StoredAnalysis", file: "analysis.schema.json", title: "Cascade analysis.json" },
  { type: "SweepRecord", file: "sweep.schema.json", title: "Cascade sweep.json" },
] as const;

/** Every record schema's text, by file name. */
export function recordSchemas(): Record<string, string> {
  const program = TJS.getProgramFromFiles([join(ROOT, "src/run/run.ts"), join(ROOT, "src/sweep/record.ts")], { strict: true, skipLibCheck: true, esModuleInterop: true }, ROOT);
  const generator = TJS.buildGenerator(program, { required: true, noExtraProps: false, ref: true, ignoreErrors: true });
  if (!generator) throw new Error("typescript-json-schema could not build a generator");
  const out: Record<string, string> = {};
  for (const s of RECORD_SCHEMAS) {
    const schema = generator.getSchemaForSymbol(s.type);
    out[s.file] = `${JSON.stringify({ title: s.title, ...schema }, null, 2)}\n`;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [file, text] of Object.entries(recordSchemas())) {
    writeFileSync(join(ROOT, "schemas", file), text);
    process.stdout.write(`schemas/${file} (${text.length} bytes)\n`);
  }
}
