// What users rely on when a run does not end normally: a bad file starts nothing, Ctrl-C at any
// moment leaves nothing behind but keeps the samples, and a SIGKILLed harness's run is removed by
// its reaper within seconds, with no command run.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../src/paths.js";
import { docker } from "../../src/runtime/docker/client.js";
import { LABEL } from "../../src/runtime/docker/labels.js";
import { readSamples } from "../../src/observe/record.js";
import { allManagedContainers, cli, objectsOfRun, readNdjson } from "./helpers.js";

const fixture = join(ROOT, "test/fixtures/scenarios/docker-foundation.yaml");
const bad = join(ROOT, "test/fixtures/scenarios/many-errors.yaml");

describe("lifecycle", () => {
  it("rejects a malformed scenario with every error and starts nothing", async () => {
    const before = await allManagedContainers();
    const run = cli(["run", bad]);
    const code = await run.exit;
    expect(code).toBe(2);
    expect(run.stderr()).toMatch(/many-errors\.yaml:5:15\s+services\.app\.replicas/);
    expect(run.stderr()).toMatch(/many-errors\.yaml:10:22\s+links\[1\]\.to/);
    expect(run.stderr()).toMatch(/many-errors\.yaml:14:30\s+load\.phases\[0\]\.rate/);
    expect(run.stderr()).toMatch(/nothing was started/);
    expect(await allManagedContainers()).toBe(before);
  });

  for (const moment of [
    { name: "while the topology comes up", at: /topology up: run ([0-9a-f]+)/, delayMs: 1500 },
    { name: "during load, after a fault", at: /apply slow-cache/, delayMs: 2500 },
  ]) {
    it(`SIGINT ${moment.name}: nothing left, samples kept`, async () => {
      const out = mkdtempSync(join(tmpdir(), "cascade-sigint-"));
      const run = cli(["run", fixture, "--out", out]);
      const runId = (await run.waitFor(/topology up: run ([0-9a-f]+)/))[1] as string;
      await run.waitFor(moment.at);
      await new Promise((r) => setTimeout(r, moment.delayMs));
      run.child.kill("SIGINT");
      const code = await run.exit;
      expect(code).toBe(130);
      expect(await objectsOfRun(runId)).toEqual({ containers: 0, networks: 0 });
      const dir = (run.stdout().match(/record: (.+)/)?.[1] ?? "").trim();
      expect(existsSync(join(dir, "result.json"))).toBe(true);
      const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as { status: string };
      expect(result.status).toBe("interrupted");
      const samples = readSamples<{ t: number }>(dir).load;
      if (moment.name.startsWith("during")) {
        expect(samples.length).toBeGreaterThanOrEqual(5);
        // No toxic can survive: the proxy that carried it is gone with its container.
        const events = readNdjson<{ type: string; action?: string; fault?: string }>(join(dir, "events.ndjson"));
        expect(events.some((e) => e.type === "fault" && e.action === "revert" && e.fault === "slow-cache")).toBe(true);
      }
    });
  }

  it("abort: a stop condition ends the load within 2 s of holding, reverts the open fault and tears down", async () => {
    const out = mkdtempSync(join(tmpdir(), "cascade-abort-"));
    const run = cli(["run", join(ROOT, "test/fixtures/scenarios/abort-early.yaml"), "--out", out]);
    await run.exit;
    const [stamp] = readdirSync(join(out, "abort-early"));
    const dir = join(out, "abort-early", stamp as string);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as {
      status: string;
      run_id: string;
      stopped_early?: { at_s: number; reason: string };
      faults: Array<{ fault: string; action: string }>;
    };
    expect(result.status).toBe("completed");
    // Frozen at 4 s: seconds 4, 5 and 6 serve nobody (500 ms deadline), so it stops after second 6.
    expect(result.stopped_early?.at_s).toBeGreaterThanOrEqual(6);
    expect(result.stopped_early?.at_s).toBeLessThanOrEqual(9);
    expect(run.stdout()).toMatch(/stopped early at \d+ s by the scenario's abort condition/);
    // The load stopped within 2 s of the decision: no more than a second or two past it.
    const load = readSamples(dir).load;
    expect(load.length).toBeLessThanOrEqual((result.stopped_early?.at_s ?? 0) + 2);
    expect(result.faults.map((f) => `${f.action} ${f.fault}`)).toEqual(["apply freeze", "revert freeze"]);
    expect(await objectsOfRun(result.run_id)).toEqual({ containers: 0, networks: 0 });
  });

  it("SIGKILL mid-fault: the run's reaper removes its containers, network and toxics within 10 s, no command run", async () => {
    const out = mkdtempSync(join(tmpdir(), "cascade-sigkill-"));
    const run = cli(["run", fixture, "--out", out]);
    const runId = (await run.waitFor(/topology up: run ([0-9a-f]+)/))[1] as string;
    await run.waitFor(/apply slow-cache/);
    // The latency toxic is active on the run's Toxiproxy when the harness dies: nobody reverts it.
    expect(await toxicsOfRun(runId)).toEqual(["app__cache: latency"]);
    run.child.kill("SIGKILL");
    await run.exit;
    const t0 = Date.now();
    let left = await objectsOfRun(runId);
    while ((left.containers || left.networks) && Date.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 250));
      left = await objectsOfRun(runId);
    }
    console.log(`SIGKILL mid-fault: run ${runId} removed by its reaper in ${Date.now() - t0} ms`);
    expect(left).toEqual({ containers: 0, networks: 0 });
    // The toxic lived in the run's Toxiproxy, which is gone: no toxic of this run is active.
    expect(await toxicsOfRun(runId)).toEqual([]);
    // The seconds completed before the kill are on disk: samples are appended as the run goes.
    const [stamp] = readdirSync(join(out, "docker-foundation"));
    expect(readSamples(join(out, "docker-foundation", stamp as string)).load.length).toBeGreaterThanOrEqual(5);
    // Nothing is left for `cascade down` to do about this run.
    const down = cli(["down"]);
    expect(await down.exit).toBe(0);
    expect(down.stdout()).not.toContain(`run ${runId}`);
  });
});

/** Toxics on the Toxiproxy of a run, read through its published API port; [] when it is gone. */
async function toxicsOfRun(runId: string): Promise<string[]> {
  const [c] = await docker().listContainers({ filters: { label: [`${LABEL.run}=${runId}`, `${LABEL.service}=toxiproxy`] } });
  const port = c?.Ports.find((p) => p.PrivatePort === 8474)?.PublicPort;
  if (!port) return [];
  const proxies = (await (await fetch(`http://127.0.0.1:${port}/proxies`)).json()) as Record<string, { toxics: { type: string }[] }>;
  return Object.entries(proxies).flatMap(([name, p]) => p.toxics.map((t) => `${name}: ${t.type}`));
}
