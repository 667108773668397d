// Topology up, shared by `cascade run` and the integration tests: images, then containers in
// dependency order, with Toxiproxy's proxies created as soon as Toxiproxy is ready (before the
// services that dial through them start), and each database that reads cost declared CPU time on
// calibrated as soon as it is ready (before the apps that convert with it start).
import type { CalibrationNeed } from "../calibrate/needs.js";
import { describeCalibration } from "../calibrate/describe.js";
import { calibrateMariadb } from "../calibrate/mariadb.js";
import { calibratePostgres, type DbCalibration } from "../calibrate/postgres.js";
import { hostPidOf, INNERMOST, processCpuNs } from "../observe/sources/procfs.js";
import { ensureImagesOrBuild } from "../images/build.js";
import { ensureUserImage } from "../images/user.js";
import { imageId } from "../runtime/docker/client.js";
import { readCgroup } from "../observe/sources/cgroup.js";
import type { ImageSource, Role } from "../images/catalog.js";
import type { Runtime } from "../runtime/types.js";
import { ToxiproxyApi } from "../runtime/toxiproxy.js";
import { TOXIPROXY_API_PORT, TOXIPROXY_SERVICE, type TopologyPlan } from "../topology/plan.js";

/** The images a run used: the source, and each role's reference and image ID (what exactly ran). */
export interface ImagesUsed {
  source: ImageSource;
  roles: Record<string, { ref: string; id: string }>;
}

export interface UpResult {
  images: ImagesUsed;
  toxiproxy: ToxiproxyApi | undefined;
  calibrations: DbCalibration[];
  images_ms: number;
  up_ms: number;
}

export async function bringUp(
  plan: TopologyPlan,
  runtime: Runtime,
  opts: {
    source: ImageSource;
    /** the source was the default, not asked for: with no registry, build offline instead */
    fallbackOffline?: boolean;
    progress: (line: string) => void;
    signal?: AbortSignal;
    calibrate?: CalibrationNeed[];
    onLeaseLost?: (why: string) => void;
    /** told when each container is ready, before the next starts (readers that must connect early) */
    onComponentReady?: (c: TopologyPlan["containers"][number]) => Promise<void>;
  },
): Promise<UpResult> {
  const { progress, signal } = opts;
  let t = Date.now();
  progress(`images (${opts.source})`);
  const { refs, source } = await ensureImagesOrBuild({
    source: opts.source,
    roles: rolesOf(plan),
    progress: (l) => progress(`  ${l}`),
    fallbackOffline: opts.fallbackOffline ?? false,
  });
  const images: ImagesUsed = { source, roles: {} };
  for (const [role, ref] of Object.entries(refs)) if (ref) images.roles[role] = { ref, id: await imageId(ref).catch(() => "unknown") };
  // Services built from their own Dockerfile folder: once per service, every replica runs it.
  const built: Record<string, string> = {};
  for (const c of plan.containers) {
    if (!("build" in c.image) || built[c.service]) continue;
    const r = await ensureUserImage(c.service, c.image.build, c.image.tag, (l) => progress(`  ${l}`));
    built[c.service] = r.ref;
    progress(`  build ${c.service}: ${r.ref} ${r.action} in ${(r.ms / 1000).toFixed(1)} s`);
    images.roles[`build:${c.service}`] = { ref: r.ref, id: await imageId(r.ref).catch(() => "unknown") };
    signal?.throwIfAborted();
  }
  const images_ms = Date.now() - t;
  signal?.throwIfAborted();

  t = Date.now();
  progress(`topology up: run ${runtime.runId}, ${plan.containers.length} containers`);
  let toxiproxy: ToxiproxyApi | undefined;
  const calibrations: DbCalibration[] = [];
  await runtime.up(
    plan,
    { ...refs, built },
    {
      progress,
      ...(signal ? { signal } : {}),
      ...(opts.onLeaseLost ? { onLeaseLost: opts.onLeaseLost } : {}),
      onReady: async (c) => {
        if (c.service === TOXIPROXY_SERVICE) {
          toxiproxy = new ToxiproxyApi(await runtime.endpoint(TOXIPROXY_SERVICE, 1, TOXIPROXY_API_PORT));
          await toxiproxy.createProxies(plan.proxies);
        }
        await opts.onComponentReady?.(c);
        const need = opts.calibrate?.find((n) => n.db === c.service);
        if (need && c.replica === 1) calibrations.push(await calibrate(plan, runtime, need, progress, signal));
      },
    },
  );
  return { images, toxiproxy, calibrations, images_ms, up_ms: Date.now() - t };
}

/** Measures the database and hands the figure to the apps that read it: the runtime creates each
 * container when its turn comes, so the later app containers are created with it in their env. */
async function calibrate(
  plan: TopologyPlan,
  runtime: Runtime,
  need: CalibrationNeed,
  progress: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<DbCalibration> {
  const db = plan.containers.find((c) => c.service === need.db && c.replica === 1) as TopologyPlan["containers"][number];
  let hostPid: number | undefined; // the probing backend's, found once
  const calibrateDb = db.kind === "mariadb" ? calibrateMariadb : calibratePostgres;
  const cal = await calibrateDb(need.db, await runtime.endpoint(need.db, 1, db.port), {
    password: runtime.dbPassword,
    cpuNs: async () => {
      const st = await runtime.state(need.db, 1);
      return st.running ? readCgroup(st.id)?.cpu_ns : undefined;
    },
    backendCpuNs: async (nsPid) => {
      hostPid ??= hostPidOf(nsPid, INNERMOST, await runtime.pids(need.db, 1));
      return hostPid === undefined ? undefined : processCpuNs(hostPid);
    },
    declaredMs: need.declaredMs,
    ...(signal ? { signal } : {}),
  });
  for (const c of plan.containers) if (need.apps.includes(c.service)) c.env.DB_ROWS_PER_CPU_MS = String(cal.rows_per_cpu_ms);
  progress(`  ${describeCalibration(cal)}`);
  return cal;
}

export function rolesOf(plan: TopologyPlan): Role[] {
  const roles = new Set<Role>();
  for (const c of plan.containers) if ("role" in c.image) roles.add(c.image.role);
  // Every service replica lives in a holder's network namespace (Toxiproxy has none).
  if (plan.containers.some((c) => c.service !== TOXIPROXY_SERVICE)) roles.add("holder");
  // Every run holds a lease: its reaper.
  roles.add("reaper");
  return [...roles];
}
