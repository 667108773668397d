// `npm run proof:swarm` — the Swarm runtime's proof on the test swarm (`bash scripts/swarm.sh up`
// first): seed 004's shared-node pair with a node lost, and the catalog's memcached-crash pair on
// the swarm and on this machine's engine; per run the verdict, mechanism, gate, time to bring the
// topology up and down, and what is left of it on every node afterwards (must be nothing).
// A proof, not a test: it takes about 6 minutes. test/docker/swarm-runtime.test.ts checks the
// runtime itself (npm run test:swarm).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../src/paths.js";
import { engineAt } from "../src/runtime/docker/client.js";
import { LABEL } from "../src/runtime/docker/labels.js";
import { readCluster } from "../src/runtime/swarm/cluster.js";

const say = (s: string) => process.stdout.write(`${s}\n`);
const cluster = readCluster();
const out = mkdtempSync(join(tmpdir(), "cascade-proof-swarm-"));
const RUNS: Array<{ file: string; runtime: "swarm" | "docker" }> = [
  { file: "scenarios/swarm/shared-node.naive.yaml", runtime: "swarm" },
  { file: "scenarios/swarm/shared-node.mitigated.yaml", runtime: "swarm" },
  { file: "scenarios/catalog/memcached-crash.naive.yaml", runtime: "swarm" },
  { file: "scenarios/catalog/memcached-crash.mitigated.yaml", runtime: "swarm" },
  { file: "scenarios/catalog/memcached-crash.naive.yaml", runtime: "docker" },
  { file: "scenarios/catalog/memcached-crash.mitigated.yaml", runtime: "docker" },
];

/** Objects of a run still on any node: containers on every node's engine, services and networks on the manager. */
async function leftOnNodes(runId: string): Promise<number> {
  const label = { label: [`${LABEL.run}=${runId}`] };
  let n = 0;
  for (const node of cluster.nodes) n += (await engineAt(node.socket).calls.listContainers({ all: true, filters: label })).length;
  const m = engineAt(cluster.manager).calls;
  n += (await m.listServices({ filters: label })).length + (await m.listNetworks({ filters: label })).length;
  return n;
}

say(`runs in ${out}; swarm: ${cluster.nodes.map((n) => `${n.name} (${n.role}) ${n.address}`).join(", ")}`);
say("| scenario | runtime | verdict | primary mechanism | gate | exit | topology up s | teardown s | left on nodes |");
say("|---|---|---|---|---|---|---|---|---|");
for (const r of RUNS) {
  const dir = join(out, r.runtime);
  const p = spawnSync(process.execPath, [join(ROOT, "bin/cascade.js"), "run", r.file, "--runtime", r.runtime, "--out", dir], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 15 * 60_000,
  });
  const name = readFileSync(join(ROOT, r.file), "utf8").match(/^name: (\S+)/m)?.[1] as string;
  const runs = readdirSync(join(dir, name)).sort();
  const folder = join(dir, name, runs.at(-1) as string);
  const result = JSON.parse(readFileSync(join(folder, "result.json"), "utf8"));
  const a = JSON.parse(readFileSync(join(folder, "analysis.json"), "utf8"));
  const primary = a.primary?.name ?? "—";
  const left = r.runtime === "swarm" ? String(await leftOnNodes(result.run_id)) : "n/a";
  say(
    `| ${name} | ${r.runtime} | ${a.verdict} | ${primary} | ${a.gate?.label} | ${p.status} | ${(result.timings_ms.topology_up / 1000).toFixed(1)} | ${(result.teardown?.ms / 1000).toFixed(1)} | ${left} |`,
  );
}
