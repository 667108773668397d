// Exit codes, documented in README. Distinct so CI can tell a bad file from a broken machine.
export const EXIT = {
  ok: 0,
  runFailed: 1,
  invalidScenario: 2,
  infrastructure: 3,
  interrupted: 130,
} as const;
