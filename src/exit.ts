// Exit codes, one per outcome, documented in README and in `cascade --help`. Distinct so CI can tell
// a bad file from a broken machine, and a failed gate from a run that could not judge.
export const EXIT = {
  /** the gate passed */
  ok: 0,
  /** an unexpected error (a bug in Cascade: the stack trace is printed) */
  unexpected: 1,
  /** the scenario file is invalid: nothing was started */
  invalidScenario: 2,
  /** the machine or the harness failed: no engine, an image, a container, a run that broke or left no analysis */
  infrastructure: 3,
  /** the run completed and an SLO objective failed (and the scenario does not expect the cascade) */
  sloFailed: 4,
  /** the run completed and the scenario's `expect:` block disagrees with the analysis */
  expectationFailed: 5,
  /** the baseline was not under the pressure the scenario requires: no verdict about the system */
  setupDidNotHold: 6,
  /** the data cannot tell: no fault applied, no load recorded, a baseline too short or already unhealthy */
  inconclusive: 7,
  /** a run folder given to analyze, report or compare is missing or damaged */
  badRecord: 8,
  /** a fault of the run failed to apply: the run did not do what the scenario says */
  invalidRun: 9,
  /** a usage or configuration error: unknown command or option, missing argument, a bad CASCADE_IMAGES or ~/.cascade/config.json */
  usage: 64,
  /** interrupted (Ctrl-C, SIGTERM): torn down, no verdict */
  interrupted: 130,
} as const;

/** The table as `cascade --help` prints it. */
export const EXIT_HELP = [
  "Exit codes:",
  "  0    the gate passed",
  "  1    unexpected error (a bug: the stack trace is printed)",
  "  2    invalid scenario file; nothing was started",
  "  3    infrastructure or harness error (engine, images, a container, a run that broke)",
  "  4    an SLO objective failed",
  "  5    the scenario's expect: block disagrees with the analysis",
  "  6    setup did not hold: the baseline was not under the pressure the scenario needs",
  "  7    inconclusive: the data cannot tell (no fault applied, no load recorded, …)",
  "  8    a run folder is missing or damaged",
  "  9    invalid run: a fault failed to apply",
  "  64   usage or configuration error (unknown option, missing argument, bad CASCADE_IMAGES or config)",
  "  130  interrupted; torn down, no verdict",
].join("\n");
