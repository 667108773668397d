import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, type TestContext } from "vitest";
import { connectionsFor, isLoopbackUrl, type LoadSample, type LoadSummary, runLoad } from "../../src/load/driver.js";

type Mode = "ok" | "503" | "stall";

interface TestServer {
  url: string;
  port: number;
  /** requests received so far */
  received: () => number;
  setMode: (m: Mode) => void;
  close: () => Promise<void>;
}

/** In-process target on 127.0.0.1:0, closed when the test finishes. */
async function startServer(ctx: TestContext): Promise<TestServer> {
  let mode: Mode = "ok";
  let received = 0;
  const server = http.createServer((req, res) => {
    received++;
    req.resume();
    if (mode === "stall") return; // never answered; the client's deadline cuts it
    res.statusCode = mode === "503" ? 503 : 200;
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const s: TestServer = {
    url: `http://127.0.0.1:${port}/x`,
    port,
    received: () => received,
    setMode: (m) => {
      mode = m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  ctx.onTestFinished(() => s.close());
  return s;
}

function checkAccounting(sum: LoadSummary): void {
  const keys = ["offered", "sent", "completed", "s2xx", "s3xx", "s4xx", "s5xx", "errors", "timeouts"] as const;
  for (const k of keys) {
    expect(sum.totals[k]).toBe(sum.samples.reduce((a, s) => a + s[k], 0));
  }
  sum.samples.forEach((s, i) => {
    expect(s.t).toBe(i);
    expect(s.completed).toBe(s.s2xx + s.s3xx + s.s4xx + s.s5xx);
    if (s.completed === 0) expect(s.p50).toBeNull();
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

  it("connection rule is min(cap, rate)", () => {
    expect(connectionsFor(200, 1000)).toBe(200);
    expect(connectionsFor(200, 50)).toBe(50);
  });
});

// Sequential on purpose: the in-process server and the driver share one event
// loop, and a concurrent test building its autocannon clients (~1 ms each)
// stalls that loop and skews timing. Total ~12 s.
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
    expect(srv.received()).toBe(0);
  });

  it("100 req/s for 3 s: 3 samples, offered 100 each, sent ~300, all 2xx", async (ctx) => {
    const srv = await startServer(ctx);
    const seen: LoadSample[] = [];
    const sum = await runLoad(
      { url: srv.url, phases: [{ duration: 3000, rate: 100 }], timeout: 1000, connections: 1000 },
      { onSample: (s) => seen.push(s) },
    );
    expect(sum.samples).toHaveLength(3);
    expect(seen).toEqual(sum.samples);
    expect(sum.samples.map((s) => s.offered)).toEqual([100, 100, 100]);
    expect(Math.abs(sum.totals.sent - 300)).toBeLessThanOrEqual(30);
    expect(srv.received()).toBe(sum.totals.sent);
    for (const s of sum.samples) {
      expect(s.s2xx).toBe(s.completed);
      expect(s.errors + s.timeouts).toBe(0);
    }
    expect(sum.totals.completed).toBe(sum.totals.sent);
    expect(sum.latency.p50).not.toBeNull();
    checkAccounting(sum);
  }, 10_000);

  it("counts 503s in the second the server returned them, with onSample called live", async (ctx) => {
    const srv = await startServer(ctx);
    const calledAt: number[] = [];
    const t0 = performance.now();
    // The server answers 503 during second 1 of the run (switched by the live samples).
    const sum = await runLoad(
      { url: srv.url, phases: [{ duration: 3000, rate: 60 }], timeout: 1000, connections: 1000 },
      {
        onSample: (s) => {
          calledAt.push(performance.now() - t0);
          if (s.t === 0) srv.setMode("503");
          if (s.t === 1) srv.setMode("ok");
        },
      },
    );
    const [s0, s1, s2] = sum.samples;
    expect(sum.samples).toHaveLength(3);
    expect(s0?.s5xx).toBe(0);
    expect(s1?.s5xx ?? 0).toBeGreaterThanOrEqual(0.8 * (s1?.completed ?? 0));
    expect(s1?.s5xx ?? 0).toBeGreaterThanOrEqual(40);
    expect(s2?.s5xx ?? 0).toBeLessThanOrEqual(0.2 * (s2?.completed ?? 0));
    // called once per second as the run goes, not all at the end
    expect(calledAt).toHaveLength(3);
    expect((calledAt[1] ?? 0) - (calledAt[0] ?? 0)).toBeGreaterThan(700);
    expect((calledAt[2] ?? 0) - (calledAt[1] ?? 0)).toBeGreaterThan(700);
    checkAccounting(sum);
  }, 10_000);

  it("counts timeouts while the server stalls, and keeps sending", async (ctx) => {
    const srv = await startServer(ctx);
    const t0 = performance.now();
    // The server never answers from the end of second 0 on; client deadline 300 ms.
    const sum = await runLoad(
      { url: srv.url, phases: [{ duration: 2000, rate: 50 }], timeout: 300, connections: 1000 },
      {
        onSample: (s) => {
          if (s.t === 0) srv.setMode("stall");
        },
      },
    );
    const elapsed = performance.now() - t0;
    const [s0, s1] = sum.samples;
    expect(sum.samples).toHaveLength(2);
    expect(s0?.timeouts).toBe(0);
    // (a request written in the last ms of second 0 may complete in second 1)
    expect(s0?.completed ?? 0).toBeGreaterThanOrEqual((s0?.sent ?? 0) - 2);
    // arrivals kept coming during the stall (timeout < 1 s) ...
    expect(s1?.sent ?? 0).toBeGreaterThanOrEqual(45);
    // ... and all of them hit the deadline (the last ones during the drain,
    // folded into the last second)
    expect(s1?.timeouts ?? 0).toBeGreaterThanOrEqual(45);
    expect(s1?.completed ?? 0).toBeLessThanOrEqual(3);
    // every request is accounted for: answered or timed out
    expect(sum.totals.completed + sum.totals.timeouts + sum.totals.errors).toBe(sum.totals.sent);
    expect(srv.received()).toBe(sum.totals.sent);
    // stops at the planned end plus at most the timeout (+ slack)
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(elapsed).toBeLessThan(2000 + 300 + 300);
    checkAccounting(sum);
  }, 10_000);

  it("counts refused connections as errors", async (ctx) => {
    const srv = await startServer(ctx);
    const url = srv.url;
    await srv.close(); // nothing listens on that port any more
    const sum = await runLoad({ url, phases: [{ duration: 1000, rate: 20 }], timeout: 500, connections: 1000 }, {});
    expect(sum.samples).toHaveLength(1);
    expect(sum.totals.completed).toBe(0);
    expect(sum.totals.errors).toBe(sum.totals.sent);
    expect(sum.totals.errors).toBeGreaterThanOrEqual(18);
    expect(sum.totals.errors).toBeLessThanOrEqual(22);
  }, 10_000);

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
    const [s0, s1] = sum.samples;
    expect(s0).toMatchObject({ t: 0, sent: 0, completed: 0, errors: 0, timeouts: 0, p50: null, max: null });
    expect(Math.abs((s1?.sent ?? 0) - 20)).toBeLessThanOrEqual(2);
    expect(srv.received()).toBe(sum.totals.sent);
    checkAccounting(sum);
  }, 10_000);

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
    expect(sum.samples[1]?.t).toBe(1);
    // the partial second's offered load is prorated to the abort instant
    expect(sum.samples[1]?.offered ?? 0).toBeLessThan(50);
    expect(sum.samples[1]?.sent ?? 0).toBeGreaterThan(5);
    await new Promise((r) => setTimeout(r, 300));
    // nothing written after the abort reaches the server
    expect(srv.received()).toBeLessThanOrEqual(sum.totals.sent);
  }, 10_000);
});
