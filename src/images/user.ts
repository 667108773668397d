// A user's own service built from its Dockerfile folder (`build:` in the scenario), the way
// `docker build` would: the context sent whole except what .dockerignore names, tagged by content
// so an unchanged folder is built once and a changed one is never run stale.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { docker, dockerStreams, followProgress } from "../runtime/docker/client.js";
import type { BuildPlan } from "../topology/plan.js";
import { REPO } from "./catalog.js";

/** Label holding the content hash on an image we built, so a user's own tag is rebuilt only on change. */
const HASH_LABEL = "cascade.context-hash";

/** .dockerignore lines as path prefixes or simple globs (*, ?); `!` exceptions are not supported. */
export function ignoreRules(text: string): Array<(path: string) => boolean> {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#") && !l.startsWith("!"))
    .map((l) => l.replace(/^\/+/, "").replace(/\/+$/, ""))
    .map((pattern) => {
      const re = new RegExp(
        `^${pattern
          .split("")
          .map((c) => (c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
          .join("")}(/.*)?$`,
      );
      return (p: string) => re.test(p);
    });
}

/** Every file of the context (relative, `/`-separated), sorted, without the ignored ones. */
export async function contextFiles(context: string): Promise<string[]> {
  const rules = ignoreRules(await readFile(join(context, ".dockerignore"), "utf8").catch(() => ""));
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const abs = join(dir, e.name);
      const rel = relative(context, abs).split(sep).join("/");
      if (rules.some((r) => r(rel))) continue;
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile()) out.push(rel);
    }
  };
  await walk(context);
  return out.sort();
}

async function contentHash(b: BuildPlan, files: string[]): Promise<string> {
  const h = createHash("sha256")
    .update(b.dockerfile)
    .update("\0")
    .update(JSON.stringify(Object.entries(b.args).sort()));
  for (const f of files) {
    const abs = join(b.context, f);
    h.update(f)
      .update("\0")
      .update(String((await stat(abs)).mode & 0o111))
      .update(await readFile(abs));
  }
  return h.digest("hex").slice(0, 12);
}

/**
 * The image of a `build:` service: present when an image of the same content exists, else built
 * (`--network host`, so a Dockerfile's package installs reach their mirrors). Returns its reference.
 */
export async function ensureUserImage(
  service: string,
  b: BuildPlan,
  tag: string | undefined,
  progress: (line: string) => void,
): Promise<{ ref: string; action: "present" | "built"; ms: number }> {
  const t0 = Date.now();
  const files = await contextFiles(b.context);
  const hash = await contentHash(b, files);
  const ref = tag ?? `${REPO}/build-${service}:${hash}`;
  const existing = await docker()
    .getImage(ref)
    .inspect()
    .catch(() => undefined);
  if (existing?.Config?.Labels?.[HASH_LABEL] === hash) return { ref, action: "present", ms: Date.now() - t0 };
  progress(`[build ${service}] ${b.context}: ${files.length} files → ${ref}`);
  const stream = await dockerStreams().buildImage(
    { context: b.context, src: files },
    { t: ref, dockerfile: b.dockerfile, buildargs: b.args, networkmode: "host", rm: true, forcerm: true, labels: { [HASH_LABEL]: hash } },
  );
  await followProgress(stream, (l) => progress(`[build ${service}] ${l}`)).catch((e: Error) => {
    throw new Error(`building ${service}'s image from ${b.context} failed: ${e.message}`);
  });
  return { ref, action: "built", ms: Date.now() - t0 };
}
