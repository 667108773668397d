// Two dockerode clients per process, and the engine check every command starts with. Every call
// of `docker()` is bounded: an engine that stops answering fails the call in DOCKER_CALL_MS with a
// line naming it, instead of hanging a run or its teardown. Streams that are quiet by nature (the
// event stream, image builds and pulls) use `dockerStreams()`, unbounded; what reads them bounds
// its own wait.
import Docker from "dockerode";

/** No answer (no byte) for this long fails a Docker call. Stops and force-removals take seconds. */
export const DOCKER_CALL_MS = 30_000;

let client: Docker | undefined;
let streams: Docker | undefined;

export class DockerTimeout extends Error {}

export function docker(): Docker {
  client ??= bounded(new Docker({ timeout: DOCKER_CALL_MS }), "the Docker engine");
  return client;
}

const at = new Map<string, { calls: Docker; streams: Docker }>();

/** Clients of another engine on a local socket (a Swarm node's): bounded calls, and unbounded streams. */
export function engineAt(socketPath: string): { calls: Docker; streams: Docker } {
  let c = at.get(socketPath);
  if (!c) {
    c = {
      calls: bounded(new Docker({ socketPath, timeout: DOCKER_CALL_MS }), `the engine at ${socketPath}`),
      streams: new Docker({ socketPath }),
    };
    at.set(socketPath, c);
  }
  return c;
}

function bounded(d: Docker, who: string): Docker {
  // docker-modem ends a timed-out request with a bare "socket hang up": name the call instead.
  const modem = d.modem as unknown as {
    dial: (o: { method?: string; path?: string }, cb: (err: unknown, data: unknown) => void) => void;
  };
  const dial = modem.dial.bind(modem);
  modem.dial = (o, cb) => {
    const t0 = Date.now();
    dial(o, (err, data) =>
      cb(
        err && Date.now() - t0 >= DOCKER_CALL_MS - 100
          ? new DockerTimeout(
              `${who} did not answer ${o.method ?? "GET"} ${(o.path ?? "").split("?")[0]} within ${DOCKER_CALL_MS / 1000} s`,
            )
          : err,
        data,
      ),
    );
  };
  return d;
}

export function dockerStreams(): Docker {
  streams ??= new Docker();
  return streams;
}

export class EngineUnavailable extends Error {
  /** EACCES: a socket this user may not open (the engine may well be running) */
  denied = false;
}

/** Resolves when the engine answers /_ping within `ms`; otherwise says plainly what is wrong. */
export async function pingEngine(ms = 3000): Promise<{ version: string; apiVersion: string }> {
  const d = docker();
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new EngineUnavailable(`the Docker engine did not answer within ${ms} ms`)), ms).unref(),
  );
  try {
    await Promise.race([d.ping(), timer]);
    const v = await Promise.race([d.version(), timer]);
    return { version: v.Version, apiVersion: v.ApiVersion };
  } catch (e) {
    if (e instanceof EngineUnavailable) throw e;
    const where = process.env.DOCKER_HOST ?? "/var/run/docker.sock";
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES") {
      const err = new EngineUnavailable(`this user may not open the Docker socket ${where} (EACCES)`);
      err.denied = true;
      throw err;
    }
    throw new EngineUnavailable(`no Docker engine answers at ${where}: ${(e as Error).message}`);
  }
}

/** Reads a dockerode progress stream to the end, passing each status line to `onLine`. */
export function followProgress(stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    dockerStreams().modem.followProgress(
      stream,
      (err: Error | null, out: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        if (err) return reject(err);
        const failed = out.find((o) => o.error);
        if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error));
        resolve();
      },
      (ev: { stream?: string; status?: string; progress?: string; id?: string; error?: string }) => {
        if (ev.error) return;
        const text = ev.stream ?? [ev.id, ev.status, ev.progress].filter(Boolean).join(" ");
        for (const line of text.split("\n")) if (line.trim()) onLine(line.trimEnd());
      },
    );
  });
}

export async function imageExists(ref: string): Promise<boolean> {
  try {
    await docker().getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}

export async function imageId(ref: string): Promise<string> {
  return (await docker().getImage(ref).inspect()).Id;
}
