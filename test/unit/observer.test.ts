import { describe, expect, it, vi } from "vitest";
import { type ComponentsSample, Observer } from "../../src/observe/observer.js";
import { appReading, type Sampler } from "../../src/observe/samplers.js";
import { parseHaproxyCsv } from "../../src/observe/sources/haproxy.js";
import { parsePrometheus } from "../../src/observe/sources/prometheus.js";

describe("Observer", () => {
  it("samples every interval; a failing or slow sampler is marked missing and never stops the others", async () => {
    let n = 0;
    const samplers: Sampler[] = [
      { name: "cache-1", source: "memcached", read: async () => ({ curr_connections: ++n }) },
      {
        name: "db-1",
        source: "postgres",
        read: async () => {
          throw new Error("connection refused");
        },
      },
      { name: "app-1", source: "metrics", read: () => new Promise(() => {}) },
    ];
    const got: ComponentsSample[] = [];
    // On a fake clock (timers, performance.now, Date): the ticks are exact, however busy the
    // machine — on a real one a late tick could leave too few before stop().
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance", "Date"] });
    const start = Date.now();
    try {
      const obs = new Observer(samplers, (s) => got.push(s), { intervalMs: 100, timeoutMs: 50 });
      obs.start(performance.now());
      await vi.advanceTimersByTimeAsync(330);
      const stopped = obs.stop();
      await vi.advanceTimersByTimeAsync(100); // the readings in progress wait out the slow sampler
      await stopped;
    } finally {
      vi.useRealTimers();
    }
    // Readings at 0, 100, 200 and 300 ms, then the last at stop(): the slow sampler's 50 ms
    // never delays the next tick (ticks counted from each reading's end would fall at 0, 150, 300).
    expect(got.map((s) => s.t)).toEqual([0, 1, 2, 3, 4]);
    expect(got.slice(0, 4).map((s) => Date.parse(s.ts) - start)).toEqual([0, 100, 200, 300]);
    for (const s of got) {
      expect(s.readings["cache-1.memcached"]).toBeDefined();
      expect(s.missing["db-1.postgres"]).toBe("connection refused");
      expect(s.missing["app-1.metrics"]).toBe("no reading in 50 ms");
    }
    expect(got.map((s) => s.readings["cache-1.memcached"]?.curr_connections)).toEqual(got.map((_, i) => i + 1));
    // Each reading is dated (seconds since start) so rates use the real time between readings;
    // a sampler with no reading has no date.
    expect(got.slice(0, 4).map((s) => s.at?.["cache-1.memcached"])).toEqual([0, 0.1, 0.2, 0.3]);
    expect(got[0]?.at?.["db-1.postgres"]).toBeUndefined();
  });
});

describe("component readings", () => {
  it("HAProxy CSV: backend queue, sessions, 5xx and servers", () => {
    const csv = [
      "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx",
      "fe,FRONTEND,,,3,10,8000,100,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,5,0,20,,,,0,90,0,0,10",
      "be,app-1,4,9,2,5,,50,0,0,,0,,1,2,0,0,UP,1,1,0,0,0,10,0,,1,3,1,,50,,2,3,,10,L7OK,200,1,0,45,0,0,5",
      "be,app-2,0,0,0,5,,50,0,0,,0,,0,0,0,0,DOWN,1,1,0,3,1,2,5,,1,3,2,,50,,2,0,,10,L7STS,503,1,0,40,0,0,5",
      "be,BACKEND,4,9,2,10,800,100,0,0,0,0,,1,2,0,0,UP,2,2,0,,1,10,5,,1,3,0,,100,,1,3,,20,,,,0,85,0,0,10",
    ].join("\n");
    const rows = parseHaproxyCsv(csv);
    expect(rows.find((r) => r.server === "BACKEND")).toMatchObject({ qcur: 4, scur: 2, hrsp_5xx: 10, econ: 1, eresp: 2, status: "UP" });
    expect(rows.filter((r) => r.status === "DOWN").map((r) => r.server)).toEqual(["app-2"]);
  });

  it("app metrics: the series that matter, summed over labels, absent ones left out", () => {
    const r = appReading(
      parsePrometheus(
        [
          'app_requests_total{status="200"} 90',
          'app_requests_total{status="503"} 10',
          "app_queue_depth 7",
          'app_shed_total{reason="queue"} 4',
          'app_shed_total{reason="memory"} 1',
          "process_resident_memory_bytes 5e7",
        ].join("\n"),
      ),
    );
    expect(r).toEqual({ requests: 100, requests_5xx: 10, queue_depth: 7, shed: 5, rss_bytes: 5e7 });
  });
});
