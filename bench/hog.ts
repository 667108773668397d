// A noisy neighbour for benches: one busy loop per core at normal priority, each a child process
// that also stops by itself after `maxSeconds`, so a crashed bench leaves nothing spinning.
import { type ChildProcess, spawn } from "node:child_process";
import { cpus } from "node:os";

export interface Hog {
  pids: number[];
  stop(): void;
}

export function startHog(maxSeconds: number, loops = cpus().length): Hog {
  const children: ChildProcess[] = [];
  for (let i = 0; i < loops; i++) {
    const child = spawn(
      process.execPath,
      ["-e", `const end = Date.now() + ${Math.round(maxSeconds * 1000)}; while (Date.now() < end) {}`],
      {
        stdio: "ignore",
      },
    );
    children.push(child);
  }
  return {
    pids: children.flatMap((c) => (c.pid === undefined ? [] : [c.pid])),
    stop() {
      for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    },
  };
}
