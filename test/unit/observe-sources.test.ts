import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCgroup } from "../../src/observe/sources/cgroup.js";
import { MemcachedReader, memcachedStats, parseMemcachedStats } from "../../src/observe/sources/memcached.js";
import { parsePrometheus, select, sumOf } from "../../src/observe/sources/prometheus.js";
import { hostPidOf, INNERMOST } from "../../src/observe/sources/procfs.js";

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
    expect(s.get("app_requests_total")).toEqual([
      { labels: { status: "200" }, value: 120 },
      { labels: { status: "503" }, value: 7 },
    ]);
    expect(sumOf(s, "app_in_flight")).toBe(3);
    expect(sumOf(s, "app_request_duration_seconds_bucket", { le: "+Inf" })).toBe(127);
    expect(s.get("app_shed_total")).toEqual([{ labels: { reason: "queue", worker: "1" }, value: 2 }]);
  });

  it("sums a metric over the series that carry the given labels; NaN when absent", () => {
    const s = parsePrometheus(text);
    expect(sumOf(s, "app_requests_total")).toBe(127);
    expect(sumOf(s, "app_requests_total", { status: "503" })).toBe(7);
    expect(sumOf(s, "app_shed_total", { reason: "queue" })).toBe(2);
    expect(sumOf(s, "app_retries_total")).toBeNaN();
  });

  it("counts 0 for labels no series carries yet when the metric is on the page", () => {
    const s = parsePrometheus(text);
    expect(sumOf(s, "app_requests_total", { status: "500" })).toBe(0);
    expect(sumOf(s, "app_in_flight", { worker: "2" })).toBe(0);
  });

  it("matches a label by equality, never by substring of the line", () => {
    const s = parsePrometheus(
      ['http_requests_total{status="503"} 4', 'http_requests_total{http_status="503"} 100', 'http_requests_total{status="5030"} 9'].join(
        "\n",
      ),
    );
    expect(sumOf(s, "http_requests_total", { status: "503" })).toBe(4);
    expect(sumOf(s, "http_requests_total", { http_status: "503" })).toBe(100);
    expect(sumOf(s, "http_requests_total")).toBe(113);
  });

  it("keeps a sample that carries an exemplar, with or without a timestamp", () => {
    const s = parsePrometheus(
      [
        "# TYPE http_requests_total counter",
        'http_requests_total{code="200"} 10 # {trace_id="abc"} 1.0 1690000000',
        'http_requests_total{code="503"} 4 1690000000000 # {trace_id="d}e\\"f"} 1.0',
        'http_requests_total{code="404"} 1',
      ].join("\n"),
    );
    expect(sumOf(s, "http_requests_total", { code: "200" })).toBe(10);
    expect(sumOf(s, "http_requests_total", { code: "503" })).toBe(4);
    expect(sumOf(s, "http_requests_total")).toBe(15);
  });

  it("unescapes quotes, backslashes and newlines in label values", () => {
    const s = parsePrometheus('x{path="a\\"b\\\\c\\nd",q="}, {"} 2\n');
    expect(s.get("x")).toEqual([{ labels: { path: 'a"b\\c\nd', q: "}, {" }, value: 2 }]);
    expect(sumOf(s, "x", { path: 'a"b\\c\nd' })).toBe(2);
  });

  it("reads +Inf, -Inf and NaN, and ignores a sample's timestamp", () => {
    const s = parsePrometheus("a +Inf\nb -Inf\nc NaN\nd 1.5e3 1690000000000\ne -0.25");
    expect(sumOf(s, "a")).toBe(Infinity);
    expect(sumOf(s, "b")).toBe(-Infinity);
    expect(s.get("c")?.[0]?.value).toBeNaN();
    expect(sumOf(s, "d")).toBe(1500);
    expect(sumOf(s, "e")).toBe(-0.25); // the last line, with no newline after it
  });

  it("keeps every series of a typed histogram: _bucket by le, _sum and _count by their labels", () => {
    const s = parsePrometheus(
      [
        "# HELP h_seconds Wait",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{path="/",le="0.1"} 1',
        'h_seconds_bucket{path="/",le="+Inf"} 3',
        'h_seconds_sum{path="/"} 0.5',
        'h_seconds_count{path="/"} 3',
        'h_seconds_bucket{path="/x",le="0.1"} 0',
        'h_seconds_bucket{path="/x",le="+Inf"} 2',
        'h_seconds_sum{path="/x"} 0.25',
        'h_seconds_count{path="/x"} 2',
      ].join("\n"),
    );
    expect(sumOf(s, "h_seconds_count")).toBe(5);
    expect(sumOf(s, "h_seconds_sum", { path: "/x" })).toBe(0.25);
    expect(sumOf(s, "h_seconds_bucket", { le: "+Inf" })).toBe(5);
    expect(sumOf(s, "h_seconds_bucket", { path: "/", le: "0.1" })).toBe(1);
  });

  it("selects with PromQL's matchers: regexes anchored, a missing label as empty", () => {
    const s = parsePrometheus(['r{code="503"} 4', 'r{code="500"} 1', 'r{code="200"} 90', 'r{code="1503"} 7', "r 2"].join("\n"));
    const sel = (op: "=" | "!=" | "=~" | "!~", value: string) => select(s, { name: "r", matchers: [{ label: "code", op, value }] });
    expect(sel("=~", "5..")).toBe(5);
    expect(sel("!~", "5..")).toBe(99);
    expect(sel("!=", "200")).toBe(14);
    expect(sel("=", "")).toBe(2);
  });

  it("refuses a page Prometheus would refuse, naming the line", () => {
    expect(() => parsePrometheus("ok 1\nbad{x=1} 2\n")).toThrow(/bad\{x=1\} 2/);
    expect(() => parsePrometheus("ok 1\nthis is not a metric\n")).toThrow(/value "is" of this/);
    expect(parsePrometheus("# only comments\n\n").size).toBe(0);
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

describe("host pids from /proc", () => {
  /** A fake proc root: one status file per pid, NSpid host first. */
  const procTree = (nspids: Record<number, number[]>): string => {
    const root = mkdtempSync(join(tmpdir(), "cascade-proc-"));
    for (const [pid, ns] of Object.entries(nspids)) {
      mkdirSync(join(root, pid));
      writeFileSync(join(root, pid, "status"), `Name:\tpostgres\nNSpid:\t${ns.join("\t")}\nNSpgid:\t${ns[0]}\n`);
    }
    return root;
  };

  it("finds a container's process by its innermost pid, skipping pids that are gone", () => {
    const proc = procTree({ 101: [101, 7], 102: [102, 42] });
    try {
      expect(hostPidOf(42, INNERMOST, [100, 101, 102], proc)).toBe(102);
      expect(hostPidOf(9, INNERMOST, [101, 102], proc)).toBeUndefined();
    } finally {
      rmSync(proc, { recursive: true });
    }
  });

  it("finds a swarm node's task process by its pid in the node's namespace, not the task's", () => {
    // host, node, task: the node's engine says 300, the task itself sees 1
    const proc = procTree({ 201: [201, 300, 1], 202: [202, 301, 7], 203: [203] });
    try {
      expect(hostPidOf(300, 1, [201, 202], proc)).toBe(201);
      expect(hostPidOf(1, 1, [201, 202], proc)).toBeUndefined();
      expect(hostPidOf(1, INNERMOST, [201, 202], proc)).toBe(201);
      // a process in the host's namespace only is named by its host pid at any level
      expect(hostPidOf(203, 1, [201, 202, 203], proc)).toBe(203);
    } finally {
      rmSync(proc, { recursive: true });
    }
  });
});
