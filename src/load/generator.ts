// One load generator process (generators.ts forks N of them): the same open-model driver, on its
// share of the arrivals (arrival k when k mod N is its index), reporting each second and each
// cohort with its HDR histogram over IPC as the driver emits them. It lives only while its
// harness does: when the IPC channel closes (the harness ended or died) it exits at once.
import { runLoad } from "./driver.js";
import type { FromGenerator, ToGenerator } from "./generators.js";
import { encodeHistogram } from "./merge.js";

const send = (m: FromGenerator): void => {
  if (process.connected) process.send?.(m);
};

const ac = new AbortController();
let started = false;

// Ctrl-C in a terminal signals the whole process group: the harness stops its generators itself
// (abort, then kill past a bound), so their last seconds still reach it.
process.on("SIGINT", () => {});
process.on("disconnect", () => process.exit(0));

process.on("message", (m: ToGenerator) => {
  if (m.type === "abort") ac.abort();
  else if (m.type === "start" && !started) {
    started = true;
    // Every generator's clock starts at the same instant (`at`, epoch ms), so their shares interleave.
    const wait = Math.max(0, m.at - (performance.timeOrigin + performance.now()));
    setTimeout(() => void run(m), wait);
  }
});

async function run(m: Extract<ToGenerator, { type: "start" }>): Promise<void> {
  try {
    const sum = await runLoad(m.spec, {
      signal: ac.signal,
      onSample: (sample, h, lag) => {
        const at = performance.timeOrigin + performance.now();
        send({ type: "sample", sample, hist: encodeHistogram(h), lag, at });
      },
      onCohort: (cohort, h) => send({ type: "cohort", cohort, hist: encodeHistogram(h) }),
    });
    const cpu = process.cpuUsage();
    done({ type: "done", connections: sum.connections, cpu_ms: Math.round((cpu.user + cpu.system) / 1000) });
  } catch (e) {
    done({ type: "error", message: (e as Error).message ?? String(e) });
  }
}

/** The last message, then exit once it is written (the harness waits for the exit, bounded). */
function done(m: FromGenerator): void {
  if (!process.connected) process.exit(0);
  process.send?.(m, undefined, {}, () => process.exit(0));
}

send({ type: "ready" });
