// Measures from inside the run network, as a peer container sees it: a small node script run with
// `docker exec` in a container that has node (the reference app). Clocks start inside that
// process, so exec and node start-up are not in the figures.
import { docker } from "../../src/runtime/docker/client.js";
import { demuxLogs } from "../../src/runtime/docker/logs.js";

export interface Attempt {
  /** answered (memcached said VERSION), a socket error code (ECONNREFUSED, ECONNRESET, ENOTFOUND…),
   * closed (the peer closed without an answer) or timeout */
  outcome: string;
  /** from the call to the outcome */
  ms: number;
  /** name lookup, when the name resolved */
  lookup_ms?: number;
  address?: string;
}

// One warm-up attempt first (module loading, first DNS query), then `n` measured ones.
const SCRIPT = `
const net = require("net"), dns = require("dns");
const [mode, host, port, timeoutMs, n] = process.argv.slice(1);
const once = () => new Promise((resolve) => {
  const t0 = performance.now();
  const r = {};
  const done = (outcome) => {
    if (r.outcome) return;
    clearTimeout(timer);
    r.outcome = outcome;
    r.ms = +(performance.now() - t0).toFixed(2);
    if (sock) sock.destroy();
    resolve(r);
  };
  const timer = setTimeout(() => done("timeout"), +timeoutMs);
  let sock;
  if (mode === "lookup") {
    dns.lookup(host, { family: 4 }, (err, address) => {
      if (err) return done(err.code || "error");
      r.address = address;
      done("resolved");
    });
    return;
  }
  sock = net.connect({ host, port: +port, family: 4 });
  sock.on("lookup", (err, address) => {
    r.lookup_ms = +(performance.now() - t0).toFixed(2);
    if (address) r.address = address;
  });
  sock.on("connect", () => sock.write("version\\r\\n"));
  sock.on("data", (d) => { if (String(d).startsWith("VERSION")) done("answered"); });
  sock.on("error", (e) => done(e.code || "error"));
  sock.on("close", () => done("closed"));
});
(async () => {
  const out = [];
  await once();
  for (let i = 0; i < +n; i++) out.push(await once());
  // exit, not return: a lookup that timed out here still holds a libuv thread until it fails.
  process.stdout.write(JSON.stringify(out), () => process.exit(0));
})();
`;

/** Runs `n` connection attempts (memcached `version`) or name lookups from inside `container`. */
export async function fromInside(
  container: string,
  mode: "connect" | "lookup",
  target: { host: string; port?: number },
  opts: { n?: number; timeoutMs?: number } = {},
): Promise<Attempt[]> {
  const { n = 5, timeoutMs = 3000 } = opts;
  const c = docker().getContainer(container);
  const ex = await c.exec({
    Cmd: ["node", "-e", SCRIPT, mode, target.host, String(target.port ?? 0), String(timeoutMs), String(n)],
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await ex.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const bound = (n + 1) * timeoutMs + 10_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`${mode} ${target.host} from ${container}: no result within ${bound} ms`));
    }, bound);
    stream.on("data", (b: Buffer) => chunks.push(b));
    stream.on("end", () => {
      clearTimeout(timer);
      resolve();
    });
    stream.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  const text = demuxLogs(Buffer.concat(chunks)).trim();
  try {
    return JSON.parse(text) as Attempt[];
  } catch {
    throw new Error(`${mode} ${target.host} from ${container}: unexpected output:\n${text}`);
  }
}

/** "ECONNREFUSED in 0.4/0.5/0.6 ms" style summary: outcomes and min/median/max. */
export function describeAttempts(a: Attempt[]): string {
  const outcomes = [...new Set(a.map((x) => x.outcome))].join("/");
  const ms = a.map((x) => x.ms).sort((p, q) => p - q);
  const med = ms[Math.floor(ms.length / 2)] ?? NaN;
  return `${outcomes} in ${ms[0]?.toFixed(1)} / ${med.toFixed(1)} / ${ms.at(-1)?.toFixed(1)} ms (min / median / max of ${a.length})`;
}
