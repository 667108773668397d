import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { readCgroup } from "../../src/observe/sources/cgroup.js";
import { MemcachedReader, memcachedStats, parseMemcachedStats } from "../../src/observe/sources/memcached.js";
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

describe("memcached reader holding one connection", () => {
  it("reads stats each time over the connection it opened first, and reconnects after the server closes it", async () => {
    let connections = 0;
    let reads = 0;
    const server = createServer((sock) => {
      connections++;
      sock.on("data", () => {
        reads++;
        sock.write(`STAT total_connections ${connections}\r\nSTAT cmd_get ${reads}\r\nEND\r\n`);
        if (reads === 2) setTimeout(() => sock.destroy(), 10); // a killed memcached
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const reader = new MemcachedReader(async () => ({ host: "127.0.0.1", port }), 500);
    try {
      await reader.open();
      expect(connections).toBe(1); // taken before anyone reads
      expect(await reader.read()).toEqual({ total_connections: 1, cmd_get: 1 });
      expect(await reader.read()).toEqual({ total_connections: 1, cmd_get: 2 });
      await new Promise((r) => setTimeout(r, 50));
      expect(await reader.read()).toEqual({ total_connections: 2, cmd_get: 3 });
    } finally {
      await reader.close();
      server.close();
    }
  });

  it("fails a read that gets no answer in time, and tries a new connection on the next", async () => {
    let connections = 0;
    const server = createServer(() => {
      connections++;
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const reader = new MemcachedReader(async () => ({ host: "127.0.0.1", port }), 100);
    try {
      await expect(reader.read()).rejects.toThrow("no answer in 100 ms");
      await expect(reader.read()).rejects.toThrow("no answer in 100 ms");
      expect(connections).toBe(2);
    } finally {
      await reader.close();
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

describe("cgroup files", () => {
  const files = (m: Record<string, string>) => (path: string) => {
    const v = m[path];
    if (v === undefined) throw new Error(`ENOENT ${path}`);
    return v;
  };
  const v1 = "/sys/fs/cgroup/memory/docker/abc";

  it("v1: CPU from cpuacct, memory as the working set (usage minus inactive file cache), the limit unless unlimited", () => {
    const r = readCgroup(
      "abc",
      files({
        "/sys/fs/cgroup/cpuacct/docker/abc/cpuacct.usage": "5000000000\n",
        [`${v1}/memory.usage_in_bytes`]: "112000000\n",
        [`${v1}/memory.stat`]: "cache 60000000\nrss 50000000\ninactive_file 1\ntotal_inactive_file 44000000\n",
        [`${v1}/memory.limit_in_bytes`]: "268435456\n",
      }),
    );
    expect(r).toEqual({ cpu_ns: 5e9, memory_bytes: 68_000_000, memory_limit: 268435456 });
    const unlimited = readCgroup(
      "abc",
      files({
        "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpuacct.usage": "1",
        [`${v1}/memory.usage_in_bytes`]: "1000",
        [`${v1}/memory.limit_in_bytes`]: "9223372036854771712",
      }),
    );
    // No memory.stat: raw usage is all there is.
    expect(unlimited).toEqual({ cpu_ns: 1, memory_bytes: 1000 });
  });

  it("v2: usage_usec, memory.current minus inactive_file, memory.max", () => {
    const dir = "/sys/fs/cgroup/system.slice/docker-abc.scope";
    const r = readCgroup(
      "abc",
      files({
        [`${dir}/cpu.stat`]: "usage_usec 2500\nuser_usec 2000\n",
        [`${dir}/memory.current`]: "90000000\n",
        [`${dir}/memory.stat`]: "anon 70000000\nfile 20000000\ninactive_file 15000000\n",
        [`${dir}/memory.max`]: "max\n",
      }),
    );
    expect(r).toEqual({ cpu_ns: 2_500_000, memory_bytes: 75_000_000 });
    expect(readCgroup("abc", files({}))).toBeUndefined();
  });
});
