// GET/POST /admin/config: read the settings in force, or change some of them while the app runs
// (the harness's `app: {set}` fault). A POST is validated like CASCADE_APP_CONFIG; settings that
// only apply at process start are refused unless unchanged.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type AppSettings, ConfigError, checkCalibrated, mergeLive, parseRowsPerMs, validateSettings } from "./config.js";

export const ADMIN_CONFIG_PATH = "/admin/config";
const SOURCE = "POST /admin/config";
const MAX_BODY = 64 * 1024;

export interface AdminDeps {
  /** When set (CASCADE_ADMIN_TOKEN, a per-run secret from the harness), every call must carry
   * `Authorization: Bearer <token>`: nothing else on the machine may switch the app. */
  token?: string;
  current(): AppSettings;
  /** Validates and applies a parsed JSON body, resolving to the settings now in force; rejects
   * with ConfigError for a bad request. */
  apply(raw: unknown): Promise<AppSettings>;
}

/** The settings after `raw` (a parsed POST body) is applied to `current`; throws ConfigError.
 * `rowsPerMs`: the database calibration every process of the app inherits in its env. */
export function patchSettings(current: AppSettings, raw: unknown, rowsPerMs = parseRowsPerMs(process.env.DB_ROWS_PER_CPU_MS)): AppSettings {
  const next = mergeLive(current, validateSettings(raw, SOURCE), SOURCE);
  checkCalibrated(next, rowsPerMs, SOURCE);
  return next;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ConfigError(`${SOURCE}: body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function handleAdminConfig(req: IncomingMessage, res: ServerResponse, deps: AdminDeps): Promise<void> {
  if (deps.token !== undefined && !sameToken(req.headers.authorization, deps.token)) {
    res.setHeader("WWW-Authenticate", "Bearer");
    sendJson(res, 401, { error: "the admin API needs this run's token: Authorization: Bearer <token>" });
    req.resume();
    return;
  }
  if (req.method === "GET" || req.method === "HEAD") {
    sendJson(res, 200, deps.current());
    return;
  }
  if (req.method !== "POST") {
    res.setHeader("Allow", "GET, HEAD, POST");
    sendJson(res, 405, { error: "method not allowed" });
    return;
  }
  // JSON only: a web page can make the user's browser POST a form or text/plain to 127.0.0.1
  // without asking (no CORS preflight), but not application/json.
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
    sendJson(res, 415, { error: `${SOURCE}: send the settings as Content-Type: application/json` });
    req.resume();
    return;
  }
  let raw: unknown;
  try {
    const text = await readBody(req);
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${SOURCE}: body is not valid JSON: ${(e as Error).message}`);
    }
    sendJson(res, 200, await deps.apply(raw));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (!res.headersSent && !res.destroyed) sendJson(res, 400, { error: e.message });
  }
}

function sameToken(header: string | undefined, token: string): boolean {
  const got = Buffer.from(/^Bearer (\S+)$/i.exec(header ?? "")?.[1] ?? "");
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}
