// Makes sure every role's image exists for the chosen source, building or pulling only what is
// missing. Offline images are tagged by content (Dockerfile + context + base image id), so a
// second build is a lookup, and a change to the app source yields a new tag, never a stale image.
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerStreams, followProgress, imageExists, imageId } from "../runtime/docker/client.js";
import { bundleApp } from "../app/build.js";
import { buildBase, BASE_REF } from "./base.js";
import { toxiproxyBinary } from "./toxiproxy.js";
import { OFFICIAL, OFFICIAL_NODE, REPO, type ImageSource, type Role } from "./catalog.js";
import { DOCKER_DIR } from "../paths.js";

export type Progress = (line: string) => void;

export interface ImageResult {
  role: Role | "base" | "node";
  ref: string;
  action: "present" | "built" | "pulled" | "missing";
  ms: number;
}

export interface EnsureOptions {
  source: ImageSource;
  roles: readonly Role[];
  progress: Progress;
  /** Only report what exists; build and pull nothing. */
  dryRun?: boolean;
}

/** Like ensureImages; when a pull finds no registry and `fallbackOffline` allows it (the source was
 * the default, not asked for), says so and builds every image offline instead. Otherwise the
 * failure is one line with the command that builds them here. */
export async function ensureImagesOrBuild(
  opts: EnsureOptions & { fallbackOffline: boolean },
): Promise<{ refs: Partial<Record<Role, string>>; results: ImageResult[]; source: ImageSource }> {
  try {
    return { ...(await ensureImages(opts)), source: opts.source };
  } catch (e) {
    if (!(e instanceof RegistryUnreachable) || opts.source !== "official") throw e;
    if (!opts.fallbackOffline)
      throw new RegistryUnreachable(`${e.message}; build the images on this machine instead: cascade images build --offline`);
    opts.progress(`${e.message}: building every image offline from Debian packages instead (cascade images build --offline)`);
    return { ...(await ensureImages({ ...opts, source: "offline" })), source: "offline" };
  }
}

/** Resolves every requested role to an image reference that exists locally. */
export async function ensureImages(opts: EnsureOptions): Promise<{ refs: Partial<Record<Role, string>>; results: ImageResult[] }> {
  const results: ImageResult[] = [];
  const refs: Partial<Record<Role, string>> = {};
  /** `since`: when the work for this role began (the Toxiproxy binary is compiled before its tag is known). */
  const timed = async (role: ImageResult["role"], ref: string, make: () => Promise<"built" | "pulled">, since = Date.now()) => {
    const t0 = since;
    if (await imageExists(ref)) {
      results.push({ role, ref, action: "present", ms: Date.now() - t0 });
      return ref;
    }
    const action = opts.dryRun ? "missing" : await make();
    results.push({ role, ref, action, ms: Date.now() - t0 });
    return ref;
  };

  let nodeBase: string | undefined;
  let baseId: string | undefined;
  const offlineBase = async () => {
    if (baseId) return baseId;
    await timed("base", BASE_REF, async () => {
      await buildBase(opts.progress);
      return "built";
    });
    baseId = await idOrNone(BASE_REF);
    return baseId;
  };

  const node = async () => {
    if (nodeBase) return nodeBase;
    if (opts.source === "official") {
      nodeBase = await timed("node", OFFICIAL_NODE, () => pull(OFFICIAL_NODE, opts.progress));
    } else {
      const base = await offlineBase();
      const ctx = await contextOf("node");
      const ref = `${REPO}/node:${hashOf(ctx, base)}`;
      nodeBase = await timed("node", ref, () => build("node", ref, ctx, { BASE: BASE_REF }, opts.progress));
    }
    return nodeBase;
  };

  for (const role of opts.roles) {
    if (role === "app" || role === "reaper") {
      const from = await node();
      const ctx = role === "app" ? await appContext() : await contextOf(role);
      const ref = `${REPO}/${role}:${hashOf(ctx, await idOrNone(from))}`;
      refs[role] = await timed(role, ref, () => build(role, ref, ctx, { BASE: from }, opts.progress));
      continue;
    }
    if (opts.source === "official") {
      refs[role] = await timed(role, OFFICIAL[role], () => pull(OFFICIAL[role], opts.progress));
      continue;
    }
    const base = await offlineBase();
    const since = Date.now();
    const ctx = role === "toxiproxy" ? await toxiproxyContext(opts.progress) : await contextOf(role);
    const ref = `${REPO}/${role}:${hashOf(ctx, base)}`;
    refs[role] = await timed(role, ref, () => build(role, ref, ctx, { BASE: BASE_REF }, opts.progress), since);
  }
  return { refs, results };
}

/** In a dry run a parent may be missing: its children then hash to refs that do not exist. */
const idOrNone = (ref: string) => imageId(ref).catch(() => "none");

/** A build context: file name → content. Small enough to hash and write out whole. */
type Context = Map<string, Buffer>;

function hashOf(ctx: Context, baseId: string): string {
  const h = createHash("sha256").update(baseId);
  for (const [name, data] of [...ctx].sort(([a], [b]) => a.localeCompare(b))) h.update(name).update("\0").update(data);
  return h.digest("hex").slice(0, 12);
}

async function contextOf(dir: string): Promise<Context> {
  const root = join(DOCKER_DIR, dir);
  const ctx: Context = new Map();
  for (const name of await readdir(root)) ctx.set(name, await readFile(join(root, name)));
  return ctx;
}

async function appContext(): Promise<Context> {
  const ctx = await contextOf("app");
  const dir = await mkdtemp(join(tmpdir(), "cascade-app-"));
  try {
    await bundleApp(join(dir, "app.js"));
    ctx.set("app.js", await readFile(join(dir, "app.js")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return ctx;
}

async function toxiproxyContext(progress: Progress): Promise<Context> {
  const ctx = await contextOf("toxiproxy");
  ctx.set("toxiproxy", await readFile(await toxiproxyBinary(progress)));
  return ctx;
}

async function build(role: string, ref: string, ctx: Context, buildargs: Record<string, string>, progress: Progress) {
  const dir = await mkdtemp(join(tmpdir(), `cascade-${role}-`));
  try {
    for (const [name, data] of ctx) await writeFile(join(dir, name), data, { mode: 0o755 });
    progress(`[${role}] building ${ref}`);
    // --network host: apt inside the build reaches Debian's mirror even with --iptables=false.
    const stream = await dockerStreams().buildImage(
      { context: dir, src: [...ctx.keys()] },
      { t: ref, buildargs, networkmode: "host", rm: true, forcerm: true, labels: { "cascade.role": role } },
    );
    await followProgress(stream, (l) => progress(`[${role}] ${l}`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return "built" as const;
}

/** A pull that no registry answered (offline machine, blocked network, unknown registry). */
export class RegistryUnreachable extends Error {
  override readonly name = "RegistryUnreachable";
}

async function pull(ref: string, progress: Progress) {
  progress(`pulling ${ref}`);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await dockerStreams().pull(ref);
  } catch (e) {
    // docker-modem's message carries the daemon's JSON; its first line is the reason.
    const why = ((e as { json?: { message?: string } }).json?.message ?? (e as Error).message)
      .split("\n")[0]
      ?.replace(/^\(HTTP code \d+\)[^-]*- /, "")
      .trim();
    throw new RegistryUnreachable(`no registry answered the pull of ${ref} (${why})`);
  }
  let last = "";
  await followProgress(stream, (l) => {
    // Layer progress bars repeat many times a second; print status changes only.
    const status = l.replace(/\s*\[=*>?\s*\].*$/, "");
    if (status !== last) progress(`[pull] ${status}`);
    last = status;
  });
  return "pulled" as const;
}
