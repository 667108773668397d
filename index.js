// The package entry for `import { runScenario, validate, analyze, writeReport } from "cascade-chaos"`:
// the TypeScript sources through tsx (no build step), as bin/cascade.js runs the CLI. Types: src/api.ts.
import { tsImport } from "tsx/esm/api";

const api = await tsImport("./src/api.ts", import.meta.url);

export const { runScenario, validate, analyze, writeReport, decideGate, EXIT, ScenarioInvalid } = api;
