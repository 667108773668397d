// The offline base image: a minimal Debian made with debootstrap and imported with `docker
// import`, because no registry (and so no FROM debian) is reachable on air-gapped machines.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerStreams, followProgress } from "../runtime/docker/client.js";

export const SUITE = "bookworm";
export const BASE_REF = `cascade/base:${SUITE}-minbase`;
const MIRROR = () => process.env.CASCADE_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";

export async function buildBase(progress: (line: string) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cascade-rootfs-"));
  try {
    progress(`[base] debootstrap --variant=minbase ${SUITE} (about 30-60 s)`);
    let n = 0;
    await run("debootstrap", ["--variant=minbase", SUITE, dir, MIRROR()], (line) => {
      // debootstrap prints one line per package; show every 20th plus the phase changes.
      if (
        ++n % 20 === 0 ||
        /^I: (Retrieving|Validating|Extracting|Installing|Configuring) (the|core|required|base)/.test(line) ||
        /successfully/.test(line)
      )
        progress(`[base] ${line}`);
    });
    progress(`[base] importing ${BASE_REF}`);
    const tar = spawn("tar", ["-C", dir, "--numeric-owner", "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const stream = await dockerStreams().importImage(tar.stdout as unknown as string, { repo: "cascade/base", tag: `${SUITE}-minbase` });
    await followProgress(stream, () => {});
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a command, streaming its output lines; rejects with its last lines on failure. */
export function run(cmd: string, args: string[], onLine: (l: string) => void, env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    const tail: string[] = [];
    const feed = (buf: Buffer) => {
      for (const l of buf.toString().split("\n")) {
        if (!l.trim()) continue;
        tail.push(l);
        if (tail.length > 15) tail.shift();
        onLine(l);
      }
    };
    child.stdout.on("data", feed);
    child.stderr.on("data", feed);
    child.on("error", (e) =>
      reject(new Error(`${cmd} could not start (${(e as NodeJS.ErrnoException).code}): is it installed? (apt-get install -y ${cmd})`)),
    );
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}:\n${tail.join("\n")}`))));
  });
}
