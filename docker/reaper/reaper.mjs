// The lease of one run (see Dockerfile). Plain Node, no dependencies: it must run on Debian's
// Node 18 as well as node:20-slim.
//
// The harness connects to port 8080 once the reaper is up and keeps the connection open for the
// whole run. When the last connection closes and none comes back within GRACE_MS, or when none
// arrives within FIRST_MS of the start, every container and network labelled with the run is
// removed (Swarm services, then containers, then the holders whose namespaces they join, then
// networks), and then the reaper itself. The run's Toxiproxy goes with its container, and every toxic with it.
//
// Its restart policy is unless-stopped: when the engine stops mid-run (or the reaper dies), the
// harness's connection is gone for good, so a reaper that finds it has run before (a file in its
// own container survives a restart) removes the run at once, as soon as the engine is back.
import { existsSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";

const RUN = process.env.CASCADE_RUN;
const GRACE_MS = Number(process.env.GRACE_MS ?? 2000);
const FIRST_MS = Number(process.env.FIRST_MS ?? 60000);
if (!RUN || !/^[0-9a-z-]+$/.test(RUN)) {
  console.error("reaper: CASCADE_RUN must name the run");
  process.exit(2);
}
const log = (m) => console.log(`${new Date().toISOString()} reaper ${RUN}: ${m}`);

/** One Docker API call on the mounted socket, bounded in time. */
function api(method, path) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: "/var/run/docker.sock", method, path, timeout: 10000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

const filter = (extra = {}) => encodeURIComponent(JSON.stringify({ label: [`cascade.run=${RUN}`], ...extra }));

/** A Swarm run's services (on an engine that is no swarm manager the list call fails: none). */
async function removeServices() {
  const r = await api("GET", `/services?filters=${filter()}`).catch(() => ({ status: 0 }));
  if (r.status !== 200) return 0;
  const services = JSON.parse(r.body);
  for (const s of services) await api("DELETE", `/services/${s.ID}`).catch((e) => log(e.message));
  return services.length;
}

async function removeAll() {
  const services = await removeServices();
  const list = await api("GET", `/containers/json?all=1&filters=${filter()}`);
  const containers = JSON.parse(list.body).filter((c) => c.Labels["cascade.reaper"] === undefined);
  const rm = (cs) => Promise.all(cs.map((c) => api("DELETE", `/containers/${c.Id}?force=1&v=1`).catch((e) => log(e.message))));
  // A service outliving its holder would try to join a namespace that is gone.
  await rm(containers.filter((c) => c.Labels["cascade.holder"] === undefined));
  await rm(containers.filter((c) => c.Labels["cascade.holder"] !== undefined));
  const nets = JSON.parse((await api("GET", `/networks?filters=${filter()}`)).body);
  // A swarm's overlay network is in use until the removed services' tasks have left it.
  for (const n of nets)
    for (let i = 0; i < (services ? 30 : 1); i++) {
      const r = await api("DELETE", `/networks/${n.Id}`).catch((e) => ({ status: 0, body: e.message }));
      if (r.status < 300 || r.status === 404) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
  return { services, containers: containers.length, networks: nets.length };
}

let reaping = false;
async function reap(why) {
  if (reaping) return;
  reaping = true;
  log(`${why}: removing the run`);
  // A second pass catches a container the harness was creating while the first listed.
  for (let pass = 1; pass <= 2; pass++) {
    try {
      const r = await removeAll();
      log(`pass ${pass}: removed ${r.services} services, ${r.containers} containers, ${r.networks} networks`);
    } catch (e) {
      log(`pass ${pass}: ${e.message}`);
    }
  }
  // Last, itself (no AutoRemove: it would not restart); if that call fails, the restart policy
  // brings it back to try again.
  await api("DELETE", `/containers/cascade-${RUN}-reaper?force=1`).catch((e) => log(`removing itself: ${e.message}`));
  process.exit(0);
}

const STARTED = "/tmp/cascade-reaper-started";
if (existsSync(STARTED)) {
  reap("restarted (the engine or this reaper stopped mid-run, so the harness's lease is broken)");
} else {
  writeFileSync(STARTED, new Date().toISOString());
  serve();
}

function serve() {
  let clients = 0;
  let timer = setTimeout(() => reap(`no harness connected within ${FIRST_MS} ms`), FIRST_MS);
  createServer((socket) => {
    clients++;
    clearTimeout(timer);
    log(`harness connected (${clients})`);
    socket.write(`cascade-reaper ${RUN}\n`);
    socket.on("data", () => {}); // heartbeats keep nothing but the connection alive
    socket.on("error", () => {});
    socket.on("close", () => {
      clients--;
      log(`harness connection closed (${clients} left)`);
      if (clients === 0) timer = setTimeout(() => reap("the harness is gone"), GRACE_MS);
    });
  }).listen(8080, () => log("listening on 8080"));
}
process.on("SIGTERM", () => process.exit(0));
