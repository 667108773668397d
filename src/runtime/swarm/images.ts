// Images reach Swarm nodes from the harness's own engine (no registry on these machines): a node
// that lacks an image, or has another image under its name, gets it by save | load.
import type Docker from "dockerode";
import { docker, engineAt } from "../docker/client.js";
import type { ClusterNode } from "./cluster.js";

async function idOn(d: Docker, ref: string): Promise<string | undefined> {
  try {
    return (await d.getImage(ref).inspect()).Id;
  } catch {
    return undefined;
  }
}

export async function ensureOnNodes(
  refs: string[],
  nodes: ClusterNode[],
  progress: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  for (const ref of refs) {
    const want = await idOn(docker(), ref);
    if (!want) throw new Error(`image ${ref} is not on this machine's engine, so it cannot be sent to the swarm's nodes`);
    for (const node of nodes) {
      signal?.throwIfAborted();
      const { calls, streams } = engineAt(node.socket);
      if ((await idOn(calls, ref)) === want) continue;
      const t0 = Date.now();
      const tar = (await docker().getImage(ref).get()) as NodeJS.ReadableStream;
      const out = (await streams.loadImage(tar)) as NodeJS.ReadableStream;
      await new Promise<void>((resolve, reject) => {
        out.on("data", () => {});
        out.on("end", resolve);
        out.on("error", reject);
      });
      if ((await idOn(calls, ref)) !== want) throw new Error(`image ${ref} did not load on node ${node.name}`);
      progress(`  image ${ref} sent to ${node.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
}
