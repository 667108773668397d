import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { memcachedStats, parseMemcachedStats } from "../../src/observe/sources/memcached.js";
import { parsePrometheus, sumOf } from "../../src/observe/sources/prometheus.js";

describe("memcached stats", () => {
  it("keeps the numeric STAT lines", () => {
    const s = parseMemcachedStats(
      "STAT pid 1\r\nSTAT version 1.6.18\r\nSTAT curr_connections 10\r\nSTAT rejected_connections 3\r\nEND\r\n",
    );
    expect(s).toEqual({ pid: 1, curr_connections: 10, rejected_connections: 3 });
  });

  it("reads a reply split over several packets from a server", async () => {
    const server = createServer((sock) => {
      sock.once("data", () => {
        sock.write("STAT total_connections 7\r\nSTAT get_hits");
        setTimeout(() => sock.write(" 5\r\nEND\r\n"), 20);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await memcachedStats({ host: "127.0.0.1", port })).toEqual({ total_connections: 7, get_hits: 5 });
    } finally {
      server.close();
    }
  });

  it("fails with the address when nothing answers in time", async () => {
    const server = createServer(() => {});
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      await expect(memcachedStats({ host: "127.0.0.1", port }, 100)).rejects.toThrow(`127.0.0.1:${port}: no answer in 100 ms`);
    } finally {
      server.close();
    }
  });
});

describe("Prometheus text", () => {
  const text = [
    "# HELP app_requests_total Requests",
    "# TYPE app_requests_total counter",
    'app_requests_total{status="200"} 120',
    'app_requests_total{status="503"} 7',
    "app_in_flight 3",
    'app_request_duration_seconds_bucket{le="+Inf"} 127',
    'app_shed_total{reason="queue",worker="1"} 2 1700000000000',
  ].join("\n");

  it("parses series with labels, timestamps and infinities", () => {
    const s = parsePrometheus(text);
    expect(s.get('app_requests_total{status="503"}')).toBe(7);
    expect(s.get("app_in_flight")).toBe(3);
    expect(s.get('app_request_duration_seconds_bucket{le="+Inf"}')).toBe(127);
    expect(s.get('app_shed_total{reason="queue",worker="1"}')).toBe(2);
  });

  it("sums a metric over the series that carry the given labels; NaN when absent", () => {
    const s = parsePrometheus(text);
    expect(sumOf(s, "app_requests_total")).toBe(127);
    expect(sumOf(s, "app_requests_total", { status: "503" })).toBe(7);
    expect(sumOf(s, "app_shed_total", { reason: "queue" })).toBe(2);
    expect(sumOf(s, "app_retries_total")).toBeNaN();
  });
});
