// cascade doctor: is this machine ready to run scenarios, and if not, what to do — in plain words.
import { spawnSync } from "node:child_process";
import { resolveSource } from "../images/source.js";
import { EngineUnavailable, pingEngine } from "../runtime/docker/client.js";
import { listRuns } from "../runtime/docker/labels.js";
import { EXIT } from "./exit.js";

export async function doctorCommand(o: { images?: string }): Promise<number> {
  let problems = 0;
  const ok = (m: string) => process.stdout.write(`ok    ${m}\n`);
  const bad = (m: string, fix: string) => {
    problems++;
    process.stdout.write(`FIX   ${m}\n      → ${fix}\n`);
  };
  const major = Number(process.versions.node.split(".")[0]);
  if (major >= 20) ok(`Node ${process.versions.node}`);
  else bad(`Node ${process.versions.node} is too old`, "install Node 20 or newer");

  try {
    const v = await pingEngine();
    ok(`Docker engine ${v.version} (API ${v.apiVersion}) answers`);
  } catch (e) {
    if (!(e instanceof EngineUnavailable)) throw e;
    bad(
      e.message,
      e.denied
        ? "the engine may be running; give this user the socket: `sudo usermod -aG docker $USER` and log in again, or run as root"
        : "start it: `dockerd --iptables=false --ip6tables=false &` (as root; `apt-get install -y docker.io` if missing), or start Docker Desktop",
    );
    process.stdout.write("\nThe image and leftover checks need the engine; fix it first.\n");
    return EXIT.infrastructure;
  }

  const { source, from } = resolveSource(o.images);
  ok(`image source: ${source} (from ${from})`);
  const { checkImages } = await import("../images/status.js");
  const images = await checkImages(source);
  const missing = images.filter((i) => !i.present);
  for (const i of images.filter((i) => i.present)) ok(`image for ${i.role}: ${i.ref}`);
  if (missing.length)
    bad(
      `missing images: ${missing.map((m) => `${m.role} (${m.ref})`).join(", ")}`,
      source === "offline"
        ? "run `cascade images build --offline` (builds from Debian packages; ~3 min cold). `cascade run` also builds what is missing."
        : "run `cascade images build` to pull them; on a machine without a registry use `cascade images build --offline`",
    );
  if (source === "offline") {
    for (const tool of ["debootstrap", "go", "tar"]) {
      const found = spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
      if (found) ok(`${tool} found (offline build)`);
      else if (missing.length)
        bad(`${tool} not found, the offline build needs it`, tool === "go" ? "install Go (1.22+)" : `apt-get install -y ${tool}`);
    }
  }
  const runs = await listRuns();
  const dead = runs.filter((r) => r.lease === "expired");
  if (dead.length)
    bad(
      `${dead.length} run(s) left containers behind with no lease: ${dead.map((r) => r.run).join(", ")}`,
      "run `cascade down` (the next `cascade run` also removes them)",
    );
  else ok(`no leftovers from dead runs${runs.length ? ` (${runs.length} live run(s), each holding its lease)` : ""}`);
  process.stdout.write(problems ? `\n${problems} thing(s) to fix.\n` : "\nReady.\n");
  return problems ? EXIT.infrastructure : EXIT.ok;
}
