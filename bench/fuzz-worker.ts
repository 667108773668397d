// The worker process of bench/fuzz-validate.ts: parses each text it is sent and answers with the
// outcome (a child process, not a worker thread: tsx's loader does not reach worker threads here).
import { ScenarioInvalid } from "../src/scenario/issues.js";
import { parseScenario } from "../src/scenario/load.js";

process.on("message", (text: string) => {
  const t0 = performance.now();
  let outcome = "valid";
  let detail = "";
  try {
    parseScenario(text, "fuzz.yaml");
  } catch (e) {
    if (e instanceof ScenarioInvalid) {
      outcome = "invalid";
      detail = String(e.issues.length);
    } else {
      outcome = "uncaught";
      detail = (e as Error)?.stack ?? String(e);
    }
  }
  process.send?.({ outcome, detail, ms: performance.now() - t0 });
});
