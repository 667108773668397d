// A run's lease: its reaper container (docker/reaper) is the first object the run creates, and the
// harness holds a TCP connection to it for the whole run. If the harness dies — SIGKILL included —
// the kernel closes the connection and the reaper removes the run's containers and networks within
// seconds, without waiting for another command. A run is live exactly while its reaper runs, so a
// concurrent harness in another PID namespace, on another machine or with a reused pid can never
// mistake a live run for leftovers (an owner pid cannot say that across namespaces).
import { connect, type Socket } from "node:net";
import type Docker from "dockerode";
import { docker, pingEngine } from "./client.js";
import { LABEL } from "./labels.js";

const REAPER_PORT = 8080;
/** The reaper's first word on a connection: proof the connection reached it (docker-proxy accepts
 * on the published port even before anything listens behind it). */
const GREETING = "cascade-reaper";
/** How long the reaper waits for the harness to come back after the connection closed. */
export const LEASE_GRACE_MS = 2000;
/** How long the reaper waits for a first connection before removing the run: as long as taking the lease may take. */
const FIRST_CONNECT_MS = 30_000;
/** How long taking the lease may take (create, start, connect). */
const TAKE_MS = 30_000;

export class LeaseUnavailable extends Error {}

/** The engine a lease is taken on when it is not this machine's (a Swarm manager's). */
export interface LeaseEngine {
  client: Docker;
  /** where the harness reaches ports that engine publishes */
  address: string;
  ping: () => Promise<unknown>;
}

export class Lease {
  private released = false;

  private constructor(
    readonly container: Docker.Container,
    private readonly socket: Socket,
  ) {}

  /** Starts the run's reaper and connects to it. `onLost` is told if the connection drops while the
   * run still holds the lease: the reaper is then removing the run. */
  static async take(
    runId: string,
    image: string,
    labels: Record<string, string>,
    onLost: (why: string) => void,
    signal?: AbortSignal,
    at?: LeaseEngine,
  ): Promise<Lease> {
    const d = at?.client ?? docker();
    // The engine's socket as the engine sees it: DOCKER_HOST=unix://<path>, or by default
    // /var/run/docker.sock (docker-modem's default is a function that may pick Docker Desktop's
    // per-user socket, which exists on the host only; Desktop maps /var/run/docker.sock into
    // containers itself).
    // Another engine (a Swarm manager in a container) is asked at its own default socket.
    const configured = at ? "/var/run/docker.sock" : (d.modem as { socketPath?: unknown }).socketPath;
    const socketPath = typeof configured === "function" ? "/var/run/docker.sock" : configured;
    if (typeof socketPath !== "string" || socketPath === "")
      throw new LeaseUnavailable("the Docker engine is not on a local socket (DOCKER_HOST is tcp://…): the run's reaper cannot reach it");
    const container = await d.createContainer({
      name: `cascade-${runId}-reaper`,
      Image: image,
      Labels: { ...labels, [LABEL.reaper]: "1" },
      Env: [`CASCADE_RUN=${runId}`, `GRACE_MS=${LEASE_GRACE_MS}`, `FIRST_MS=${FIRST_CONNECT_MS}`],
      ExposedPorts: { [`${REAPER_PORT}/tcp`]: {} },
      HostConfig: {
        // Back after an engine restart, to remove what the broken lease left (see reaper.mjs); it
        // removes itself when done.
        RestartPolicy: { Name: "unless-stopped" },
        Init: true,
        Binds: [`${socketPath}:/var/run/docker.sock`],
        // On another engine the harness reaches the reaper at that engine's address.
        PortBindings: { [`${REAPER_PORT}/tcp`]: [{ HostIp: at ? "" : "127.0.0.1", HostPort: "" }] },
        Memory: 64 * 2 ** 20,
        MemorySwap: 64 * 2 ** 20,
      },
    });
    await container.start();
    const deadline = Date.now() + TAKE_MS;
    let last = "";
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      const info = await container.inspect();
      if (!info.State.Running) throw new LeaseUnavailable(`the run's reaper stopped at start (${info.State.Status})`);
      const port = Number(info.NetworkSettings.Ports?.[`${REAPER_PORT}/tcp`]?.[0]?.HostPort);
      if (port) {
        try {
          const socket = await greeted(at?.address ?? "127.0.0.1", port, Math.min(3000, deadline - Date.now()));
          const lease = new Lease(container, socket);
          socket.on("close", () => {
            if (lease.released) return;
            // The engine going away closes it too (docker-proxy dies with it): say which.
            (at ? at.ping() : pingEngine(2000)).then(
              () => onLost("the connection to the run's reaper closed: it is removing the run"),
              (e: Error) =>
                onLost(
                  `the Docker engine stopped answering mid-run (${e.message}); the run's reaper removes the run once the engine is back`,
                ),
            );
          });
          return lease;
        } catch (e) {
          last = (e as Error).message;
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new LeaseUnavailable(`the run's reaper did not answer within ${TAKE_MS / 1000} s${last ? ` (${last})` : ""}`);
  }

  /** Lets go of the lease before the harness removes the run itself (the reaper last). */
  release(): void {
    this.released = true;
    this.socket.destroy();
  }
}

/** Connects and waits for the reaper's greeting; the socket then stays open, unref'd (it must not
 * keep the process alive, and the process's end closes it). */
function greeted(host: string, port: number, ms: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (why: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`no greeting in ${ms} ms`), ms);
    let got = "";
    socket.setEncoding("utf8");
    socket.on("error", (e) => fail(e.message));
    socket.on("close", () => fail("closed before the greeting"));
    socket.on("data", function onData(chunk: string) {
      got += chunk;
      if (!got.includes("\n")) return;
      clearTimeout(timer);
      socket.removeAllListeners("close");
      socket.removeAllListeners("error");
      socket.removeListener("data", onData);
      socket.on("data", () => {}); // keep reading: the reaper's end must reach "close"
      if (!got.startsWith(GREETING)) return fail(`unexpected greeting ${JSON.stringify(got.slice(0, 40))}`);
      socket.on("error", () => {});
      socket.setKeepAlive(true, 5000);
      socket.unref();
      resolve(socket);
    });
  });
}
