// Toxiproxy for the offline path: the published Go module at a pinned release, built static.
import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { stateDir } from "../paths.js";
import { TOXIPROXY_MODULE, TOXIPROXY_VERSION } from "./catalog.js";
import { run } from "./base.js";

/** Path of a cached static toxiproxy binary, go-installing it on first use (~1 min cold). */
export async function toxiproxyBinary(progress: (l: string) => void): Promise<string> {
  const dir = join(stateDir(), "toxiproxy", TOXIPROXY_VERSION);
  const bin = join(dir, "toxiproxy");
  if (existsSync(bin)) return bin;
  await mkdir(dir, { recursive: true });
  progress(`[toxiproxy] go install ${TOXIPROXY_MODULE}@${TOXIPROXY_VERSION} (static, about a minute)`);
  await run("go", ["install", `${TOXIPROXY_MODULE}@${TOXIPROXY_VERSION}`], (l) => progress(`[toxiproxy] ${l}`), {
    ...process.env,
    CGO_ENABLED: "0",
    GOBIN: dir,
  });
  await rename(join(dir, "server"), bin);
  return bin;
}
