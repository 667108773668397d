// The game day's page, served on 127.0.0.1 at a random port, to whoever holds the session's token.
//
// node:http is enough for a handful of routes and Server-Sent Events (one-way updates are all the
// page needs: its actions are plain POSTs), so no server library. Who may drive the session:
// - every request carries the per-session token (128 random bits), in the query (the page, its
//   scripts and the event stream: a browser cannot set headers on those) or in a header (the POSTs),
//   compared in constant time;
// - a request with an Origin header that is not the page's own is refused, and so is one whose Host
//   is not the address the server listens on (DNS rebinding), or that a browser marks cross-site;
// - a POST must be JSON (a form on another site cannot send that without a preflight that fails).
// Refusals are 403 and say why in plain text.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { needsNodes } from "../faults/registry.js";
import { bundle, type BundleName } from "../report/bundles.js";
import { Fault } from "../scenario/schema.js";
import { ActionBody, ActionRefused, type GameDay } from "./session.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const MAX_BODY = 64 * 1024;
/** SSE comment sent this often so a proxy or the browser does not drop a quiet stream */
const KEEPALIVE_MS = 15_000;

const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: "page.html", type: "text/html; charset=utf-8" },
  "/page.js": { file: "page.js", type: "text/javascript; charset=utf-8" },
  "/page.css": { file: "page.css", type: "text/css; charset=utf-8" },
};
const VENDOR: Record<string, BundleName> = {
  "/vendor/vega.js": "vega",
  "/vendor/vega-lite.js": "vega-lite",
  "/vendor/vega-embed.js": "vega-embed",
};

/** vega compiles its expressions with Function(): 'unsafe-eval' is the price of the report's own
 * chart library; nothing but this server's own files may run. */
const CSP =
  "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface GameDayServer {
  url: string;
  port: number;
  token: string;
  origin: string;
  close(): Promise<void>;
}

export async function serveGameDay(session: GameDay, opts: { port?: number } = {}): Promise<GameDayServer> {
  const token = randomBytes(16).toString("hex");
  const tokenBuf = Buffer.from(token);
  // A game day runs on one engine: faults that act on a cluster's nodes (Swarm) get no form.
  const all = z.toJSONSchema(Fault, { io: "input", unrepresentable: "any" }) as {
    oneOf: Array<{ properties?: { kind?: { const?: string } } }>;
  };
  const faultSchema = { ...all, oneOf: all.oneOf.filter((k) => !needsNodes(k.properties?.kind?.const ?? "")) };
  let origin = "";
  let host = "";
  const streams = new Set<http.ServerResponse>();

  const tokenOk = (given: string | null | undefined): boolean => {
    if (!given) return false;
    const b = Buffer.from(given);
    return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf);
  };

  const refuse = (res: http.ServerResponse, why: string, code = 403) => {
    res.writeHead(code, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    res.end(`${why}\n`);
  };

  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", origin || "http://127.0.0.1");
    // Who is asking, before anything else.
    if (req.headers.host !== host) return refuse(res, `refused: Host ${req.headers.host ?? "(none)"} is not ${host}`);
    const from = req.headers.origin;
    if (from !== undefined && from !== origin) return refuse(res, `refused: Origin ${from} is not this page's (${origin})`);
    if (req.headers["sec-fetch-site"] === "cross-site") return refuse(res, "refused: a cross-site request");
    if (!tokenOk(url.searchParams.get("token") ?? (req.headers["x-cascade-token"] as string | undefined)))
      return refuse(res, "refused: no valid session token (open the URL cascade gameday printed)");

    const common = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "content-security-policy": CSP };
    for (const [k, v] of Object.entries(common)) res.setHeader(k, v);

    if (req.method === "GET") {
      const page = STATIC[url.pathname];
      if (page) {
        let body = readFileSync(join(HERE, page.file), "utf8");
        if (page.file === "page.html") body = body.replaceAll("__TOKEN__", token);
        res.writeHead(200, { "content-type": page.type, "cache-control": "no-store" });
        return res.end(body);
      }
      const lib = VENDOR[url.pathname];
      if (lib) {
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "private, max-age=3600" });
        return res.end(bundle(lib).code);
      }
      if (url.pathname === "/api/state") return json(res, 200, { ...session.snapshot(), fault_schema: faultSchema });
      if (url.pathname === "/api/charts") return json(res, 200, session.charts());
      if (url.pathname === "/api/export") {
        try {
          const { source } = session.asPlayed();
          res.writeHead(200, { "content-type": "text/yaml; charset=utf-8", "cache-control": "no-store" });
          return res.end(source);
        } catch (e) {
          return json(res, 409, { error: (e as Error).message });
        }
      }
      if (url.pathname === "/events") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
        const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        send("state", session.snapshot());
        const off = session.subscribe(send);
        const keep = setInterval(() => res.write(": keep-alive\n\n"), KEEPALIVE_MS);
        streams.add(res);
        req.on("close", () => {
          off();
          clearInterval(keep);
          streams.delete(res);
        });
        return;
      }
      return refuse(res, "not found", 404);
    }
    if (req.method === "POST" && url.pathname === "/api/action") {
      if (!(req.headers["content-type"] ?? "").startsWith("application/json")) return refuse(res, "refused: a JSON body is needed", 415);
      let size = 0;
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          refuse(res, "body too large", 413);
          req.destroy();
        } else chunks.push(c);
      });
      req.on("end", () => {
        if (res.headersSent) return;
        let body: ActionBody;
        try {
          body = ActionBody.parse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch (e) {
          return json(res, 400, {
            error: e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") : "bad JSON",
          });
        }
        session.act(body).then(
          (r) => json(res, 200, { ok: true, ...r }),
          (e: Error) => json(res, e instanceof ActionRefused ? 409 : 500, { error: e.message }),
        );
      });
      return;
    }
    return refuse(res, "method not allowed", 405);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  host = `127.0.0.1:${port}`;
  origin = `http://${host}`;
  return {
    url: `${origin}/?token=${token}`,
    port,
    token,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
