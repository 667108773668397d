// The run record's JSON Schemas (schemas/*.schema.json): generated from the types the code writes,
// committed, and checked here against a fresh generation and against real analyses.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { recordSchemas } from "../../scripts/record-schemas.js";
import { judge } from "../../src/analyze/analyze.js";
import { readRun } from "../../src/analyze/stored.js";
import { RECORD_SCHEMA_VERSION } from "../../src/observe/record.js";

const schemaFile = (f: string) => fileURLToPath(new URL(`../../schemas/${f}`, import.meta.url));

describe("record schemas", () => {
  it("the committed schemas are what the types generate (npm run schema:record)", () => {
    for (const [file, text] of Object.entries(recordSchemas())) expect(readFileSync(schemaFile(file), "utf8"), file).toBe(text);
  }, 60_000);

  it("the analysis of each recorded run, as analysis.json stores it, is valid against its schema", () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const check = ajv.compile(JSON.parse(readFileSync(schemaFile("analysis.schema.json"), "utf8")));
    for (const name of ["cold-cache-load-shift", "retry-storm-metastable", "shedding-held"]) {
      const a = judge(readRun(fileURLToPath(new URL(`../fixtures/runs/${name}`, import.meta.url))));
      const stored = JSON.parse(JSON.stringify({ schema_version: RECORD_SCHEMA_VERSION, ...a }));
      expect(check(stored), `${name}: ${ajv.errorsText(check.errors)}`).toBe(true);
      // and the schema is not vacuous: a verdict outside the enum is refused
      expect(check({ ...stored, verdict: "maybe" })).toBe(false);
    }
  });
});
