// The Runtime seam: what the run needs from a container platform. Docker implements it today;
// Swarm or Kubernetes can implement it when a topology outgrows one machine.
import type { ContainerPlan, TopologyPlan } from "../topology/plan.js";
import type { Role } from "../images/catalog.js";

/** Each role's image, and the image of each service built from its own Dockerfile folder (by
 * service name: every replica runs it). The plan says what to build; this says what was built. */
export type ImageRefs = Partial<Record<Role, string>> & { built?: Record<string, string> };

export interface Endpoint {
  host: string;
  port: number;
}

/** A container lifecycle change seen by the platform (start, die, oom, restart…). */
export interface ContainerEvent {
  time: string;
  service: string;
  replica: number;
  action: string;
  exitCode?: number;
}

/** Container limits: memory in bytes, CPU in cores; 0 = unlimited. */
export interface Limits {
  memory?: number;
  cpus?: number;
}

/** A container's state as the platform reports it (docker inspect). */
export interface ContainerState {
  /** the platform's id of the container (for cgroup files) */
  id: string;
  running: boolean;
  status: string;
  /** the kernel's OOM killer ended the last run (sticky until the next start) */
  oomKilled: boolean;
  /** restarts done by the restart policy */
  restartCount: number;
  exitCode: number;
  /** host pid of the container's init, 0 when not running */
  pid: number;
}

export interface TeardownReport {
  containers: number;
  networks: number;
  ms: number;
}

export interface UpOptions {
  progress: (line: string) => void;
  signal?: AbortSignal;
  /** Called after each container is ready, before the next starts (e.g. to create proxies). */
  onReady?: (c: ContainerPlan) => Promise<void>;
  /** Called if the run's lease is lost mid-run (its reaper stopped): the run is being removed. */
  onLeaseLost?: (why: string) => void;
}

export interface Runtime {
  readonly runId: string;
  /** Bearer token of the reference app's admin API in this run (CASCADE_ADMIN_TOKEN). */
  readonly adminToken: string;
  /** Password of the `cascade` role in this run's Postgres and MariaDB services (POSTGRES_PASSWORD, MARIADB_PASSWORD; the app gets
   * it as PGPASSWORD and MYSQL_PWD). Made per run, given to containers when they are created, never recorded. */
  readonly dbPassword: string;
  /** Creates the network and starts every container in order, waiting for each to be ready. */
  up(plan: TopologyPlan, images: ImageRefs, opts: UpOptions): Promise<void>;
  /** Where a container's port is reachable from the harness: its address on the run's own network,
   * or 127.0.0.1 and a published port where the harness has no route to that network. */
  endpoint(service: string, replica: number, port: number): Promise<Endpoint>;
  /** Sends a signal the way a crash would (so restart policies apply); returns affected containers.
   * replicas: undefined = all of the service. */
  kill(service: string, replicas: number[] | undefined, signal: string): Promise<string[]>;
  /** Starts stopped containers again (and their host first, after a hostDown) and waits until they are ready. */
  start(service: string, replicas: number[] | undefined): Promise<string[]>;
  /** The replica's whole host is lost: its process, its name and its address go together (a kill
   * or stop leaves the name and address: peers are refused). start() brings the host back. */
  hostDown(service: string, replicas: number[] | undefined): Promise<string[]>;
  /** Stops through the platform (a manual stop: restart policies leave it down). */
  stop(service: string, replicas: number[] | undefined): Promise<string[]>;
  /** Restarts and waits until ready. */
  restart(service: string, replicas: number[] | undefined): Promise<string[]>;
  /** Freezes (true) or thaws (false) every process of the containers. */
  pause(service: string, replicas: number[] | undefined, paused: boolean): Promise<string[]>;
  /** Changes limits of a running container; returns the ones it had (0 = none). */
  update(service: string, replica: number, limits: Limits): Promise<Limits>;
  /** Starts a detached process inside a container; its host pid, to signal it later. */
  exec(service: string, replica: number, cmd: string[]): Promise<{ pid: number }>;
  /** Host pids of every process in a container (empty when it is not running). */
  pids(service: string, replica: number): Promise<number[]>;
  /** Current state of one container. */
  state(service: string, replica: number): Promise<ContainerState>;
  /** Streams lifecycle events until the returned function is called. */
  watch(onEvent: (e: ContainerEvent) => void): Promise<() => void>;
  /** How the harness reaches containers: their addresses on the run's network, or published ports. */
  route(): Promise<"bridge" | "published">;
  /** A node-level fault, on runtimes with nodes (Swarm): down / up (a machine lost and back), drain /
   * active (the manager moves tasks off and lets them back). Returns the replicas placed on the node. */
  node?(name: string, action: "down" | "up" | "drain" | "active"): Promise<string[]>;
  /** Removes everything this run created. Safe to call more than once. */
  down(): Promise<TeardownReport>;
  /** Last log lines of one container, for error messages. */
  logsTail(service: string, replica: number, lines?: number): Promise<string>;
  plans(): ContainerPlan[];
}
