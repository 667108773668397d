// Exit codes, documented in README. Distinct so CI can tell a bad file from a broken machine.
export const EXIT = {
  ok: 0,
  runFailed: 1,
  invalidScenario: 2,
  infrastructure: 3,
  /** the run completed and an SLO objective failed */
  sloFailed: 4,
  /** the run completed and the scenario's `expect:` block disagrees with the analysis */
  expectationFailed: 5,
  /** the baseline was not under the pressure the scenario requires: no verdict about the system */
  setupDidNotHold: 6,
  interrupted: 130,
} as const;
