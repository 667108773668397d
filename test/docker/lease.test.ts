// A run's lease (src/runtime/docker/lease.ts): a live run is told from leftovers by its reaper,
// never by its owner pid, and a dead harness's run is removed by that reaper within seconds.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureImages } from "../../src/images/build.js";
import { resolveSource } from "../../src/images/source.js";
import { ROOT } from "../../src/paths.js";
import { docker } from "../../src/runtime/docker/client.js";
import { LABEL, listRuns, reap } from "../../src/runtime/docker/labels.js";
import { objectsOfRun } from "./helpers.js";

let reaper: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  const { refs } = await ensureImages({ source: resolveSource().source, roles: ["reaper"], progress: () => {} });
  reaper = refs.reaper as string;
});
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

/** Starts a stand-in harness in its own PID namespace (so its pid means nothing here, as for a
 * CI job in a container with the same hostname); resolves with its run id and owner label.
 * --kill-child: a SIGKILL of `unshare` takes the harness (its namespace's pid 1) with it. */
async function harnessInOwnPidNamespace(owner?: string): Promise<{ child: ChildProcess; run: string; owner: string }> {
  const args = [
    "--pid",
    "--fork",
    "--kill-child=SIGKILL",
    process.execPath,
    "--import",
    "tsx",
    join(ROOT, "test/docker/lease-holder.ts"),
    reaper,
  ];
  const child = spawn("unshare", owner ? [...args, owner] : args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "ready" in 60 s: ${out}`)), 60_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /ready (\w+) owner (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, run: m[1] as string, owner: m[2] as string });
      }
    });
    child.on("exit", (code) => reject(new Error(`stand-in harness exited ${code}: ${out}`)));
  });
}

async function waitGone(run: string, ms: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const left = await objectsOfRun(run);
    if (left.containers === 0 && left.networks === 0) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`run ${run} still has ${JSON.stringify(await objectsOfRun(run))} after ${ms} ms`);
}

describe("run leases", () => {
  it("a live run in another PID namespace, same hostname, holds its lease: reap() leaves it alone", async () => {
    // Its owner label: this hostname and a pid that no longer exists here (a process that has
    // exited), which the old owner-pid check took for a dead harness and removed.
    const dead = spawnSync("true").pid;
    const h = await harnessInOwnPidNamespace(`${hostname()}:${dead}`);
    expect(() => process.kill(dead, 0)).toThrow();
    expect((await listRuns()).find((r) => r.run === h.run)?.lease).toBe("held");
    const removed = await reap(false);
    expect(removed.map((r) => r.run)).not.toContain(h.run);
    expect(await objectsOfRun(h.run)).toEqual({ containers: 1, networks: 1 });
    h.child.kill("SIGKILL");
  });

  it("a SIGKILLed harness's run is removed by its reaper within 10 s, with no command run", async () => {
    const h = await harnessInOwnPidNamespace();
    h.child.kill("SIGKILL");
    const ms = await waitGone(h.run, 10_000);
    console.log(`run ${h.run}: removed by its reaper ${ms} ms after the harness's SIGKILL`);
  });

  it("a reaper that comes back after a stop (as after an engine restart) removes the run at once, itself last", async () => {
    const h = await harnessInOwnPidNamespace();
    const reaperOf = async () =>
      (await docker().listContainers({ all: true, filters: { label: [`${LABEL.run}=${h.run}`, LABEL.reaper] } }))[0];
    const c = docker().getContainer((await reaperOf())?.Id as string);
    expect((await c.inspect()).HostConfig.RestartPolicy?.Name).toBe("unless-stopped");
    // A restart is a stop and a start, as the engine's own stop and start do to it; the harness
    // stays alive, so only the restart can make the reaper remove the run.
    await c.restart({ t: 1 });
    const ms = await waitGone(h.run, 10_000);
    expect(await reaperOf()).toBeUndefined();
    console.log(`run ${h.run}: removed by its restarted reaper ${ms} ms after the restart`);
    h.child.kill("SIGKILL");
  });

  it("leftovers with no lease (no live reaper) are reaped, whatever their owner label says", async () => {
    const run = "deadbeef";
    const labels = { [LABEL.managed]: "1", [LABEL.run]: run, [LABEL.owner]: `some-host:${process.pid}` };
    await docker().createNetwork({ Name: `cascade-${run}`, Driver: "bridge", Labels: labels });
    expect((await listRuns()).find((r) => r.run === run)?.lease).toBe("expired");
    const removed = await reap(false);
    expect(removed.find((r) => r.run === run)).toMatchObject({ networks: 1, lease: "expired" });
    expect(await objectsOfRun(run)).toEqual({ containers: 0, networks: 0 });
  });
});
