// HTTP front of the reference app: routing, request metrics, health and /metrics.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { ItemService } from "./items.js";
import type { AppMetrics } from "./metrics.js";

export interface AppServerDeps {
  items: ItemService;
  metrics: AppMetrics;
  /** Number of items; `/` picks a random id in [0, keys). */
  keys: number;
  /** Whether the database has been initialised (table created and seeded); drives /health. */
  dbReady: () => boolean;
  log?: (line: string) => void;
}

const ITEM_PATH = /^\/item\/(\d{1,9})$/;

function send(res: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

export function createAppServer(deps: AppServerDeps): Server {
  const { items, metrics } = deps;
  const log = deps.log ?? (() => {});

  async function serveItem(res: ServerResponse, id: number): Promise<void> {
    const stopTimer = metrics.requestDuration.startTimer();
    metrics.inFlight.inc();
    let status = 500;
    try {
      const result = await items.read(id);
      status = result.status;
      send(res, status, result.body);
    } catch (e) {
      log(`unexpected error serving item ${id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      status = 500;
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    } finally {
      metrics.inFlight.dec();
      metrics.requests.inc({ status: String(status) });
      stopTimer();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      send(res, 405, "method not allowed\n");
      return;
    }
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (path === "/") return serveItem(res, Math.floor(Math.random() * deps.keys));
    const m = ITEM_PATH.exec(path);
    if (m) return serveItem(res, Number(m[1]));
    if (path === "/health") {
      if (deps.dbReady()) send(res, 200, "ok");
      else send(res, 503, "database not initialised\n");
      return;
    }
    if (path === "/metrics") {
      const body = await metrics.registry.metrics();
      send(res, 200, body, metrics.registry.contentType);
      return;
    }
    send(res, 404, "not found\n");
  }

  const server = createServer((req, res) => {
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
