// cascade images build | list
import { ensureImagesOrBuild, RegistryUnreachable } from "../images/build.js";
import { ROLES } from "../images/catalog.js";
import { resolveSource, saveSource } from "../images/source.js";
import { EngineUnavailable, pingEngine } from "../runtime/docker/client.js";
import { EXIT } from "./exit.js";

export async function imagesBuildCommand(o: { images?: string; offline?: boolean }): Promise<number> {
  const { source: asked, from } = resolveSource(o.offline ? "offline" : o.images);
  if (!(await engine())) return EXIT.infrastructure;
  const t0 = Date.now();
  process.stderr.write(`images: ${asked} (from ${from})\n`);
  let built: Awaited<ReturnType<typeof ensureImagesOrBuild>>;
  try {
    built = await ensureImagesOrBuild({
      source: asked,
      roles: ROLES,
      progress: (l) => process.stderr.write(`  ${l}\n`),
      fallbackOffline: from === "default",
    });
  } catch (e) {
    if (!(e instanceof RegistryUnreachable)) throw e;
    process.stderr.write(`${e.message}\n`);
    return EXIT.infrastructure;
  }
  const { results, source } = built;
  // Remember the source that worked so later runs on this machine use the same images.
  saveSource(source);
  for (const r of results)
    process.stdout.write(`${r.role.padEnd(10)} ${r.action.padEnd(8)} ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${r.ref}\n`);
  process.stdout.write(`all images ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return EXIT.ok;
}

export async function imagesListCommand(o: { images?: string }): Promise<number> {
  const { source, from } = resolveSource(o.images);
  if (!(await engine())) return EXIT.infrastructure;
  process.stdout.write(`source: ${source} (from ${from})\n`);
  const { checkImages } = await import("../images/status.js");
  for (const s of await checkImages(source)) process.stdout.write(`${s.role.padEnd(10)} ${s.present ? "present" : "missing"}  ${s.ref}\n`);
  return EXIT.ok;
}

async function engine(): Promise<boolean> {
  try {
    await pingEngine();
    return true;
  } catch (e) {
    if (!(e instanceof EngineUnavailable)) throw e;
    process.stderr.write(`${e.message}\nSee \`cascade doctor\`.\n`);
    return false;
  }
}
