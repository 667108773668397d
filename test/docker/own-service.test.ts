// A user's own service: built by the harness from its Dockerfile folder (`build:`), dialing its
// dependencies by the names in its own config (`cache:11211`), and still behind Toxiproxy — a
// partition of the link cuts exactly that name. Probed from inside the service's container with
// the Perl its image has (the test's image is the offline base: no node, no curl).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { moduleFor } from "../../src/faults/registry.js";
import { ensureUserImage } from "../../src/images/user.js";
import { Fault } from "../../src/scenario/schema.js";
import { redactedPlan } from "../../src/topology/plan.js";
import { type Topology, topology } from "./topology.js";

const CONTEXT = fileURLToPath(new URL("../fixtures/build/web", import.meta.url));

// memcached's `version` over a fresh connection to host:port, with a 3 s alarm; then the address
// the name resolves to. Prints "answered", "closed" or the error, a newline, the address.
const PROBE = `
use IO::Socket::INET; my ($h, $p) = @ARGV; my $r;
eval { local $SIG{ALRM} = sub { die "timeout\\n" }; alarm 3;
  my $s = IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p) or die "$!\\n";
  print $s "version\\r\\n"; my $l = <$s>; $r = defined $l && $l =~ /^VERSION/ ? "answered" : "closed"; alarm 0; };
$r //= $@; chomp $r; my @a = gethostbyname($h);
print "$r\\n", (@a ? join(".", unpack("C4", $a[4])) : "unresolved"), "\\n";`;

let t: Topology;
let web: string;

const inWeb = (...cmd: string[]) => execFileSync("docker", ["exec", web, ...cmd], { encoding: "utf8", timeout: 15_000 });
const probe = (host: string) => {
  const [outcome, address] = inWeb("perl", "-e", PROBE, host, "11211").trim().split("\n");
  return { outcome, address };
};
const ipOf = (container: string) =>
  execFileSync("docker", ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container], {
    encoding: "utf8",
  }).trim();

beforeAll(async () => {
  t = await topology(`
name: own-service
services:
  web: { kind: image, build: ${JSON.stringify(CONTEXT)}, port: 8081, ready: { http: /health, command: [perl, -e, "exit(-e '/srv/server.pl' ? 0 : 1)"] } }
  cache: { kind: memcached, memory: 64m }
  db: { kind: postgres }
links:
  - { from: web, to: cache }
  - { from: web, to: db }
load: { target: web, phases: [{ duration: 1s, rate: 1 }] }`);
  web = `cascade-${t.runtime.runId}-web-1`;
}, 240_000);

afterAll(() => t?.down());

describe("a service built from its own Dockerfile folder", () => {
  it("is built once per content: the same folder again is present, tagged by its files (.dockerignore left out)", async () => {
    const built = t.images.roles["build:web"]?.ref;
    // what was built is the run's; the plan still says only what to build
    expect(t.plan.containers.find((x) => x.service === "web")?.image).not.toHaveProperty("ref");
    expect(built).toMatch(/^cascade\/build-web:[0-9a-f]{12}$/);
    const again = await ensureUserImage("web", { context: CONTEXT, dockerfile: "Dockerfile", args: {} }, undefined, () => {});
    expect(again.action).toBe("present");
    expect(built).toBe(again.ref);
    // the ignored file is not in the image
    expect(() => inWeb("cat", "/srv/notes.txt")).toThrow();
    expect(readFileSync(`${CONTEXT}/notes.txt`, "utf8")).toMatch(/never sees/);
  });

  it("is not ready while its ready command fails: the command runs in the container and its exit code is the answer", async () => {
    const started = Date.now();
    await expect(
      topology(`
name: own-service-not-ready
services:
  web: { kind: image, build: ${JSON.stringify(CONTEXT)}, port: 8081, ready: { command: "exit 3", timeout: 3s } }
load: { target: web, phases: [{ duration: 1s, rate: 1 }] }`),
    ).rejects.toThrow(/not ready within 3 s: `\/bin\/sh -c exit 3` exited 3/);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 90_000);

  it("answers HTTP on its port (its readiness passed through the published port)", async () => {
    const ep = await t.ep("web");
    const res = await fetch(`http://${ep.host}:${ep.port}/health`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
  });

  it("dials cache:11211 from its own config and reaches memcached through Toxiproxy: a partition of web->cache cuts that name", async () => {
    const before = probe("cache");
    expect(before.outcome).toBe("answered");
    expect(before.address).toBe(ipOf(`cascade-${t.runtime.runId}-toxiproxy-1`));
    // the dependency itself answers under another name (the proxy's upstream)
    expect(probe("cache-origin").address).toBe(ipOf(`cascade-${t.runtime.runId}-cache-1-holder`));

    const f = Fault.parse({ at: 0, kind: "partition", link: "web->cache" });
    const applied = await moduleFor(f).apply(f, { runtime: t.runtime, ...(t.toxiproxy ? { toxiproxy: t.toxiproxy } : {}) });
    const cut = probe("cache");
    await applied.revert?.();
    const after = probe("cache");
    console.log(`web -> cache:11211: before ${before.outcome}, partitioned ${cut.outcome}, after ${after.outcome}`);
    expect(cut.outcome).not.toBe("answered");
    expect(after.outcome).toBe("answered");
  });

  it("is given this run's Postgres password as PGPASSWORD, which no plan holds", () => {
    expect(inWeb("printenv", "PGPASSWORD").trim()).toBe(t.runtime.dbPassword);
    expect(JSON.stringify(redactedPlan(t.plan))).not.toContain(t.runtime.dbPassword);
    expect(t.plan.containers.find((c) => c.service === "web")?.env.DB_ADDR).toBe("db:5432");
  });
});
