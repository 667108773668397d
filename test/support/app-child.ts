// The reference app's esbuild bundle run as a child process, as its image runs it: for the unit
// tests of what only a real process shows (start-up failures, SIGTERM, the cluster master).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleApp } from "../../src/app/build.js";

export interface AppChild {
  child: ChildProcess;
  /** Exit code (null after a signal). */
  exited: Promise<number | null>;
  /** The port from the "listening" line; rejects if the app exits first. */
  listening: Promise<number>;
  output(): { stdout: string; stderr: string; all: string };
}

export class AppBundle {
  private dir = "";
  private bundle = "";
  private readonly children: ChildProcess[] = [];

  async build(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "cascade-app-test-"));
    this.bundle = join(this.dir, "app.js");
    await bundleApp(this.bundle);
  }

  /** Kills whatever is still running (by the pids started here) and removes the bundle. */
  async cleanup(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** Starts the bundle with only PATH and `env` in its environment. */
  run(env: Record<string, string>): AppChild {
    const child = spawn(process.execPath, [this.bundle], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.push(child);
    let stdout = "";
    let stderr = "";
    let all = "";
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      all += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
      all += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const listening = new Promise<number>((resolve, reject) => {
      child.stdout?.on("data", () => {
        const m = /cascade-app listening on :(\d+)/.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", (code) => reject(new Error(`app exited (${code}) before listening: ${all}`)));
    });
    listening.catch(() => {});
    return { child, exited, listening, output: () => ({ stdout, stderr, all }) };
  }
}
