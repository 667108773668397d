import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { describe, expect, it, type TestContext } from "vitest";
import { isLoopbackUrl, type LoadSample, type LoadSummary, runLoad } from "../../src/load/driver.js";
import { BAD, COMPLETE, NEED_MORE, ResponseFramer } from "../../src/load/http1.js";
import { Schedule } from "../../src/load/schedule.js";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface TestServer {
  url: string;
  port: number;
  /** performance.now() of every request received */
  arrivals: number[];
  /** TCP connections accepted */
  connections: () => number;
  close: () => Promise<void>;
}

const ok: Handler = (_req, res) => res.end("ok");

/** In-process target on 127.0.0.1:0, closed when the test finishes. */
async function startServer(ctx: TestContext, handler: Handler = ok): Promise<TestServer> {
  const arrivals: number[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    arrivals.push(performance.now());
    req.resume();
    handler(req, res);
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const s: TestServer = {
    url: `http://127.0.0.1:${port}/x`,
    port,
    arrivals,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  ctx.onTestFinished(() => s.close());
  return s;
}

const KEYS = ["offered", "sent", "dropped", "completed", "s2xx", "s3xx", "s4xx", "s5xx", "errors", "timeouts"] as const;

function checkAccounting(sum: LoadSummary): void {
  for (const k of KEYS) expect(sum.totals[k]).toBe(sum.samples.reduce((a, s) => a + s[k], 0));
  sum.samples.forEach((s, i) => {
    expect(s.t).toBe(i);
    expect(s.offered).toBe(s.sent + s.dropped);
    expect(s.completed).toBe(s.s2xx + s.s3xx + s.s4xx + s.s5xx);
    if (s.completed + s.timeouts === 0) expect(s.p50).toBeNull();
    else expect(s.p50).not.toBeNull();
  });
}

describe("isLoopbackUrl", () => {
  it("accepts only 127.0.0.1, localhost and ::1", () => {
    expect(isLoopbackUrl("http://127.0.0.1:8080/a")).toBe(true);
    expect(isLoopbackUrl("http://localhost:1/")).toBe(true);
    expect(isLoopbackUrl("http://[::1]:9/")).toBe(true);
    expect(isLoopbackUrl("http://127.0.0.2/")).toBe(false);
    expect(isLoopbackUrl("http://10.0.0.1/")).toBe(false);
    expect(isLoopbackUrl("http://example.com/")).toBe(false);
    expect(isLoopbackUrl("http://localhost.example.com/")).toBe(false);
    expect(isLoopbackUrl("ftp://127.0.0.1/")).toBe(false);
    expect(isLoopbackUrl("not a url")).toBe(false);
  });
});

describe("Schedule", () => {
  const perSecond = (s: Schedule) =>
    Array.from({ length: Math.ceil(s.totalMs / 1000) }, (_, i) => s.countBefore((i + 1) * 1000) - s.countBefore(i * 1000));

  it("constant rate: arrivals mid-slot, exactly rate per second", () => {
    const s = new Schedule([{ duration: 3000, rate: 100 }]);
    expect(s.total).toBe(300);
    expect(perSecond(s)).toEqual([100, 100, 100]);
    expect(s.timeOf(0)).toBeCloseTo(5, 9);
    expect(s.timeOf(99)).toBeCloseTo(995, 9);
  });

  it("ramp, pause and burst: offered is the integral of the rate", () => {
    const s = new Schedule([
      { duration: 2000, rate: 0, to: 200 }, // 200 arrivals, a quarter of them in the first second
      { duration: 1000, rate: 0 },
      { duration: 500, rate: 400 },
      { duration: 1000, rate: 100, to: 0 },
    ]);
    expect(perSecond(s)).toEqual([50, 150, 0, 200 + 37, 13]); // the ramp down starts mid-second
    expect(s.total).toBe(450);
    // intended times grow, agree with countBefore, and skip the pause
    let prev = -1;
    for (let k = 0; k < s.total; k++) {
      const t = s.timeOf(k);
      expect(t).toBeGreaterThan(prev);
      expect(s.countBefore(t)).toBe(k);
      expect(s.countBefore(t + 1e-6)).toBe(k + 1);
      expect(t < 2000 || t >= 3000).toBe(true);
      prev = t;
    }
    expect(s.timeOf(200)).toBeCloseTo(3001.25, 6); // first of the burst: half a slot in
  });
});

describe("ResponseFramer", () => {
  const feedAll = (f: ResponseFramer, text: string, step = Number.POSITIVE_INFINITY): number[] => {
    const b = Buffer.from(text, "latin1");
    const out: number[] = [];
    for (let i = 0; i < b.length; i += Math.min(step, b.length)) out.push(f.feed(b, i, Math.min(b.length, i + step)));
    return out;
  };

  it("frames Content-Length in one read and byte by byte", () => {
    const res = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\r\nhello";
    for (const step of [Number.POSITIVE_INFINITY, 1, 7]) {
      const f = new ResponseFramer();
      const r = feedAll(f, res, step);
      expect(r.at(-1)).toBe(COMPLETE);
      expect(r.slice(0, -1).every((x) => x === NEED_MORE)).toBe(true);
      expect(f.status).toBe(503);
      expect(f.close).toBe(false);
    }
  });

  it("frames chunked bodies with extensions and trailers, and skips 1xx", () => {
    const res =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
      "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n";
    for (const step of [Number.POSITIVE_INFINITY, 1, 3]) {
      const f = new ResponseFramer();
      expect(feedAll(f, res, step).at(-1)).toBe(COMPLETE);
      expect(f.status).toBe(200);
      expect(f.close).toBe(true);
    }
  });

  it("204 has no body; no length means to EOF; extra bytes are BAD", () => {
    const f = new ResponseFramer();
    expect(feedAll(f, "HTTP/1.1 204 No Content\r\n\r\n")).toEqual([COMPLETE]);
    f.reset();
    expect(feedAll(f, "HTTP/1.0 200 OK\r\n\r\nbody until close")).toEqual([NEED_MORE]);
    expect(f.eof()).toBe(true);
    f.reset();
    expect(feedAll(f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK")).toEqual([BAD]);
    f.reset();
    expect(feedAll(f, "garbage\r\n\r\n")).toEqual([BAD]);
  });
});

describe("runLoad", () => {
  it("refuses a non-loopback URL before any traffic", async (ctx) => {
    const srv = await startServer(ctx);
    const onSample = (): void => {
      throw new Error("no sample expected");
    };
    for (const url of [`http://10.0.0.1:${srv.port}/`, `http://example.com:${srv.port}/`, `http://127.0.0.2:${srv.port}/`]) {
      await expect(runLoad({ url, phases: [{ duration: 1000, rate: 10 }], timeout: 500, connections: 10 }, { onSample })).rejects.toThrow(
        /refusing url/,
      );
    }
    expect(srv.arrivals).toHaveLength(0);
  });

  // The open-model property. The target holds every request that arrives in a 1 s window
  // and answers them all at its end: a closed-loop driver would stop sending; this one must
  // keep sending at the planned rate (new connections), and p99 must show the stall.
  it("keeps sending on schedule while responses are blocked, and p99 covers the stall", async (ctx) => {
    const held: http.ServerResponse[] = [];
    let from = Number.POSITIVE_INFINITY;
    let to = Number.POSITIVE_INFINITY;
    const srv = await startServer(ctx, (_req, res) => {
      const now = performance.now();
      if (now >= from && now < to) held.push(res);
      else res.end("ok");
    });
    const rate = 300;
    const stallMs = 1000;
    const start = performance.now();
    from = start + 500;
    to = from + stallMs;
    const release = setTimeout(() => {
      for (const r of held) r.end("late");
    }, to - start);
    ctx.onTestFinished(() => clearTimeout(release));
    const sum = await runLoad({ url: srv.url, phases: [{ duration: 2500, rate }], timeout: 5000, connections: 2000 }, {});
    const planned = (rate * stallMs) / 1000;
    // sent while blocked, counted at the server: within 1 % of planned
    expect(Math.abs(held.length - planned)).toBeLessThanOrEqual(planned * 0.01);
    expect(sum.totals.dropped).toBe(0);
    expect(sum.totals.sent).toBe(sum.totals.offered);
    expect(sum.totals.completed).toBe(sum.totals.sent);
    expect(sum.connections.peak).toBeGreaterThanOrEqual(planned);
    // latency from the intended send time: the first held request waited the whole stall
    expect(sum.latency.p99 ?? 0).toBeGreaterThanOrEqual(0.95 * stallMs);
    expect(sum.latency.max ?? 0).toBeGreaterThanOrEqual(0.98 * stallMs);
    expect(sum.samples[1]?.p99 ?? 0).toBeGreaterThanOrEqual(0.95 * stallMs); // released in second 1
    expect(sum.samples[0]?.p99 ?? Number.POSITIVE_INFINITY).toBeLessThan(100);
    checkAccounting(sum);
  });

  it("charges its own stall to latency instead of omitting it", async (ctx) => {
    const srv = await startServer(ctx);
    const block = setTimeout(() => {
      const until = performance.now() + 200;
      while (performance.now() < until) {} // the driver's event loop is stuck for 200 ms
    }, 400);
    ctx.onTestFinished(() => clearTimeout(block));
    const sum = await runLoad({ url: srv.url, phases: [{ duration: 1000, rate: 100 }], timeout: 1000, connections: 100 }, {});
    expect(sum.totals.sent).toBe(100); // sent late, not skipped
    expect(sum.latency.max ?? 0).toBeGreaterThanOrEqual(190);
    expect(sum.latency.p50 ?? Number.POSITIVE_INFINITY).toBeLessThan(50);
    checkAccounting(sum);
  });
});

// Independent of precise timing, so they share the event loop.
describe.concurrent("runLoad accounting", () => {
  it("steady rate on kept-alive connections, status classes live per second", async (ctx) => {
    let mode = 200;
    const srv = await startServer(ctx, (_req, res) => {
      res.statusCode = mode;
      res.end("ok");
    });
    const calledAt: number[] = [];
    const t0 = performance.now();
    const sum = await runLoad(
      { url: srv.url, phases: [{ duration: 2000, rate: 100 }], timeout: 1000, connections: 100 },
      {
        onSample: (s) => {
          calledAt.push(performance.now() - t0);
          if (s.t === 0) mode = 503;
        },
      },
    );
    expect(sum.samples.map((s) => s.offered)).toEqual([100, 100]);
    expect(sum.totals.sent).toBe(200);
    expect(srv.arrivals).toHaveLength(200);
    expect(sum.totals.completed).toBe(200);
    const [s0, s1] = sum.samples as [LoadSample, LoadSample];
    expect(s0.s2xx).toBeGreaterThanOrEqual(98);
    expect(s1.s5xx).toBeGreaterThanOrEqual(98);
    expect(srv.connections()).toBeLessThanOrEqual(5); // keep-alive, not a connection per request
    expect(calledAt[0] ?? 0).toBeGreaterThan(990);
    expect(calledAt[0] ?? 0).toBeLessThan(1500); // live, not at the end
    checkAccounting(sum);
  });

  it("drops what a tiny connection cap cannot carry, counted per intended second", async (ctx) => {
    const srv = await startServer(ctx, (_req, res) => setTimeout(() => res.end("ok"), 20));
    const sum = await runLoad({ url: srv.url, phases: [{ duration: 1000, rate: 200 }], timeout: 1000, connections: 2 }, {});
    expect(sum.totals.offered).toBe(200);
    expect(sum.totals.dropped).toBeGreaterThan(50);
    expect(sum.totals.sent).toBeLessThanOrEqual(2 * (1000 / 20) + 2);
    expect(sum.totals.sent + sum.totals.dropped).toBe(200);
    expect(sum.totals.completed).toBe(sum.totals.sent);
    expect(sum.connections.peak).toBe(2);
    expect(srv.connections()).toBe(2);
    checkAccounting(sum);
  });

  it("follows a ramp: offered per second and arrival times at the server", async (ctx) => {
    const srv = await startServer(ctx);
    const start = performance.now();
    const sum = await runLoad({ url: srv.url, phases: [{ duration: 2000, rate: 0, to: 200 }], timeout: 1000, connections: 100 }, {});
    expect(sum.samples.map((s) => s.offered)).toEqual([50, 150]);
    expect(sum.totals.sent).toBe(200);
    const inFirst = srv.arrivals.filter((t) => t - start < 1000).length;
    expect(Math.abs(inFirst - 50)).toBeLessThanOrEqual(2);
    const inFirstHalf = srv.arrivals.filter((t) => t - start < 500).length;
    expect(Math.abs(inFirstHalf - 12)).toBeLessThanOrEqual(2); // N(500 ms) = 12.5
    checkAccounting(sum);
  });

  it("counts timeouts at the deadline and stops at the planned end plus the timeout", async (ctx) => {
    const srv = await startServer(ctx, () => {}); // never answers
    const t0 = performance.now();
    const sum = await runLoad({ url: srv.url, phases: [{ duration: 1000, rate: 50 }], timeout: 300, connections: 1000 }, {});
    const elapsed = performance.now() - t0;
    expect(sum.totals.sent).toBe(50);
    expect(sum.totals.timeouts).toBe(50);
    expect(sum.totals.completed).toBe(0);
    expect(srv.arrivals).toHaveLength(50);
    // every request recorded at its deadline (lower bound of its latency)
    expect(sum.latency.p50 ?? 0).toBeGreaterThanOrEqual(300);
    expect(sum.latency.max ?? 0).toBeLessThan(400);
    expect(elapsed).toBeLessThan(1000 + 300 + 300);
    checkAccounting(sum);
  });

  it("counts refused connections as errors", async (ctx) => {
    const srv = await startServer(ctx);
    const url = srv.url;
    await srv.close(); // nothing listens on that port any more
    const sum = await runLoad({ url, phases: [{ duration: 500, rate: 40 }], timeout: 500, connections: 1000 }, {});
    expect(sum.totals.sent).toBe(20);
    expect(sum.totals.errors).toBe(20);
    expect(sum.totals.completed).toBe(0);
    checkAccounting(sum);
  });

  it("handles chunked responses and servers that close after answering", async (ctx) => {
    let n = 0;
    const srv = await startServer(ctx, (_req, res) => {
      if (++n % 3 === 0) res.setHeader("Connection", "close");
      res.write("chunk one ");
      res.end("chunk two");
    });
    const sum = await runLoad({ url: srv.url, phases: [{ duration: 500, rate: 60 }], timeout: 1000, connections: 100 }, {});
    expect(sum.totals.sent).toBe(30);
    expect(sum.totals.s2xx).toBe(30);
    expect(sum.totals.errors + sum.totals.timeouts).toBe(0);
    expect(srv.connections()).toBeGreaterThanOrEqual(10); // one per `close`
    checkAccounting(sum);
  });

  it("reads a body delimited by the close (no length)", async (ctx) => {
    const raw = net.createServer((sock) => {
      sock.once("data", () => sock.end("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close"));
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    ctx.onTestFinished(() => new Promise<void>((r) => raw.close(() => r())));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
    const sum = await runLoad({ url, phases: [{ duration: 500, rate: 20 }], timeout: 1000, connections: 100 }, {});
    expect(sum.totals.sent).toBe(10);
    expect(sum.totals.s2xx).toBe(10);
    expect(sum.connections.opened).toBe(10);
    checkAccounting(sum);
  });

  it("a rate-0 phase is a pause: zero samples, no traffic", async (ctx) => {
    const srv = await startServer(ctx);
    const sum = await runLoad(
      {
        url: srv.url,
        phases: [
          { duration: 1000, rate: 0 },
          { duration: 500, rate: 40 },
        ],
        timeout: 500,
        connections: 1000,
      },
      {},
    );
    expect(sum.samples.map((s) => s.offered)).toEqual([0, 20]);
    expect(sum.samples[0]).toMatchObject({ t: 0, sent: 0, completed: 0, errors: 0, timeouts: 0, p50: null, max: null });
    expect(sum.samples[1]?.sent).toBe(20);
    expect(srv.arrivals).toHaveLength(20);
    checkAccounting(sum);
  });

  it("abort mid-run returns early with the samples so far", async (ctx) => {
    const srv = await startServer(ctx);
    const ac = new AbortController();
    const seen: LoadSample[] = [];
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 1300);
    const sum = await runLoad(
      { url: srv.url, phases: [{ duration: 10_000, rate: 50 }], timeout: 1000, connections: 1000 },
      { onSample: (s) => seen.push(s), signal: ac.signal },
    );
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(1800);
    expect(sum.samples).toHaveLength(2);
    expect(seen).toEqual(sum.samples); // the partial second was reported too
    // the partial second's offered load is what had come due by the abort
    expect(sum.samples[1]?.offered ?? 0).toBeGreaterThan(5);
    expect(sum.samples[1]?.offered ?? 0).toBeLessThan(50);
    checkAccounting(sum);
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.arrivals.length).toBeLessThanOrEqual(sum.totals.sent); // nothing sent after the abort
  });
});
