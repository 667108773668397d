// HTTP front of the reference app: routing, admission of item requests (shedding, queueing, slots),
// request metrics, health, /metrics and the admin API.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { ADMIN_CONFIG_PATH, type AdminDeps, handleAdminConfig } from "./admin.js";
import type { Admission, ShedReason } from "./admission.js";
import type { Cache } from "./cache.js";
import type { ItemService } from "./items.js";
import type { AppMetrics } from "./metrics.js";
import type { Slot } from "./workers.js";

export interface AppServerDeps {
  items: ItemService;
  metrics: AppMetrics;
  /** Number of items; `/` picks a random id in [0, keys). */
  keys: number;
  /** Whether the database has been initialised (table created and seeded); drives /health. */
  dbReady: () => boolean;
  admission: Admission<Slot>;
  /** The cache connection a request served by `slot` uses. */
  cacheFor: (slot: Slot) => Cache | undefined;
  /** Memory near the limit: new item requests are shed and /health fails. */
  memoryShedding: () => boolean;
  admin: AdminDeps;
  /** The /metrics answer; by default this process's registry (cluster children ask the master). */
  metricsText?: () => Promise<{ contentType: string; body: string }>;
  log?: (line: string) => void;
}

const ITEM_PATH = /^\/item\/(\d{1,9})$/;

const SHED_BODY: Record<ShedReason, string> = {
  queue: "overloaded: queue full\n",
  inflight: "overloaded: no free worker\n",
  deadline: "overloaded: waited past the queue deadline\n",
  memory: "overloaded: memory near the limit\n",
};

function send(res: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

export function createAppServer(deps: AppServerDeps): Server {
  const { items, metrics, admission } = deps;
  const log = deps.log ?? (() => {});

  function shed(res: ServerResponse, reason: ShedReason): number {
    metrics.shed.inc({ reason });
    send(res, 503, SHED_BODY[reason]);
    return 503;
  }

  // A request whose client has gone while it waited is still served, as a unicorn worker would:
  // the work queued behind a stall is done even when nobody waits for it any more.
  async function serveItem(res: ServerResponse, id: number): Promise<void> {
    const stopTimer = metrics.requestDuration.startTimer();
    let status = 500;
    try {
      if (deps.memoryShedding()) {
        status = shed(res, "memory");
        return;
      }
      const admitted = await admission.acquire();
      if (admitted.ok || admitted.reason === "deadline") metrics.queueWait.observe(admitted.waitedMs / 1000);
      if (!admitted.ok) {
        status = shed(res, admitted.reason);
        return;
      }
      metrics.inFlight.inc();
      try {
        const result = await items.read(id, deps.cacheFor(admitted.slot));
        status = result.status;
        send(res, status, result.body);
      } finally {
        metrics.inFlight.dec();
        admission.release(admitted.slot);
      }
    } catch (e) {
      log(`unexpected error serving item ${id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      status = 500;
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    } finally {
      metrics.requests.inc({ status: String(status) });
      stopTimer();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (path === ADMIN_CONFIG_PATH) return handleAdminConfig(req, res, deps.admin);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      send(res, 405, "method not allowed\n");
      return;
    }
    if (path === "/") return serveItem(res, Math.floor(Math.random() * deps.keys));
    // The bench's cache-hit endpoint: always item 0, a hit once one request filled it.
    if (path === "/hit") return serveItem(res, 0);
    const m = ITEM_PATH.exec(path);
    if (m) return serveItem(res, Number(m[1]));
    if (path === "/health") {
      if (deps.memoryShedding()) send(res, 503, "shedding: memory near the limit\n");
      else if (!deps.dbReady()) send(res, 503, "database not initialised\n");
      else send(res, 200, "ok");
      return;
    }
    if (path === "/metrics") {
      const { contentType, body } = deps.metricsText
        ? await deps.metricsText()
        : { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
      send(res, 200, body, contentType);
      return;
    }
    send(res, 404, "not found\n");
  }

  const server = createServer((req, res) => {
    // Once closing (SIGTERM, a replacement), answer with `Connection: close`: a client kept alive on
    // this process would otherwise go on being served by it for the whole grace period.
    if (!server.listening) res.shouldKeepAlive = false;
    handle(req, res).catch((e: unknown) => {
      log(`unexpected error on ${req.url}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });
  // Outlive the idle timeout of the proxy in front (HAProxy), so the app never closes a kept-alive
  // connection just as the proxy reuses it (that race shows up as spurious 502s).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
