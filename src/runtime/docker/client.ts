// One dockerode client per process, and the engine check every command starts with.
import Docker from "dockerode";

let client: Docker | undefined;

export function docker(): Docker {
  client ??= new Docker();
  return client;
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
    docker().modem.followProgress(
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
