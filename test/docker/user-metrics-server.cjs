// A user's service for test/docker/user-metrics.test.ts, run with `node -e` in a container: request i
// gets a 503 when i % 5 = 0 (its upstream said 503 too), a 200 though its upstream said 503 when
// i % 5 = 1 (a substring match of status="503" would count these), else a 200. Per request it
// counts 2 dependency calls that succeeded, 1 that failed and 1 retry. Its /metrics page has what
// real pages have: an exemplar, a typed histogram, escaped label values, series next to the mapped ones.
const http = require("node:http");
let n = 0;
const c = { ok: 0, up503: 0, err: 0 };
http
  .createServer((q, r) => {
    if (q.url === "/metrics") {
      r.setHeader("content-type", "text/plain; version=0.0.4");
      return r.end(
        [
          "# HELP http_requests_total Requests by status, and the status the upstream gave",
          "# TYPE http_requests_total counter",
          `http_requests_total{status="200",upstream_status="200"} ${c.ok} # {trace_id="abc"} 1.0 1690000000`,
          `http_requests_total{status="200",upstream_status="503"} ${c.up503}`,
          `http_requests_total{status="503",upstream_status="503"} ${c.err}`,
          "# TYPE http_in_flight_requests gauge",
          "http_in_flight_requests 3",
          'work_queue_depth{queue="main"} 5',
          'work_queue_depth{queue="batch"} 40',
          `db_calls_total{outcome="ok"} ${2 * n}`,
          `db_calls_total{outcome="error"} ${n}`,
          `db_retries_total ${n}`,
          "# TYPE http_request_duration_seconds histogram",
          `http_request_duration_seconds_bucket{path="/",le="0.1"} ${n}`,
          `http_request_duration_seconds_bucket{path="/",le="+Inf"} ${n}`,
          `http_request_duration_seconds_sum{path="/"} ${n / 100}`,
          `http_request_duration_seconds_count{path="/"} ${n}`,
          String.raw`build_info{version="1.0 \"beta\" C:\\app\nline"} 1`,
          "process_start_time_seconds +Inf",
          "",
        ].join("\n"),
      );
    }
    const i = n++;
    const k = i % 5 === 0 ? "err" : i % 5 === 1 ? "up503" : "ok";
    c[k]++;
    r.statusCode = k === "err" ? 503 : 200;
    r.end("ok");
  })
  .listen(8080);
