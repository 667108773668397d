// Process entry of the reference app (bundled into one file by build.ts, run as `node app.js`).
// With processes >= 1 this same file runs as the cluster master and as each forked process.
import cluster from "node:cluster";
import { startApp } from "./app.js";
import { ClusterChild, runMaster } from "./cluster.js";
import { type AppConfig, ConfigError, loadConfig } from "./config.js";
import { errorMessage } from "./timeout.js";

const inCluster = cluster.isWorker;
const log = inCluster ? (line: string): void => console.log(`[${process.pid}] ${line}`) : (line: string): void => console.log(line);

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`cascade-app: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }

  if (!inCluster && config.processes >= 1) {
    runMaster(config, log);
    return;
  }

  // Before start-up (which may take a while loading memory): settings sent meanwhile are kept.
  const child = inCluster ? new ClusterChild() : undefined;
  const app = await startApp(config, { log, standalone: !inCluster, ...child?.startOptions() });
  child?.attach(app);
  log(inCluster ? `cascade-app process serving on :${app.port}` : `cascade-app listening on :${app.port}`);

  let exiting = false;
  const exit = (code: number, why: string): void => {
    if (exiting) return;
    exiting = true;
    log(`cascade-app: ${why}, shutting down`);
    const s = app.live.current;
    // Whatever happens while closing, the process is gone a few seconds later.
    setTimeout(() => process.exit(code), s.cacheTimeoutMs + s.dbQueryTimeoutMs + 5000).unref();
    app.close().then(
      () => process.exit(code),
      (e: unknown) => {
        console.error(`cascade-app: error while closing: ${errorMessage(e)}`);
        process.exit(code === 0 ? 1 : code);
      },
    );
  };
  process.on("SIGTERM", () => exit(0, "SIGTERM"));
  process.on("SIGINT", () => exit(0, "SIGINT"));

  app.dbInit.catch((e: unknown) => {
    console.error(`cascade-app: ${errorMessage(e)}`);
    exit(1, "database start-up failed");
  });
}

main().catch((e: unknown) => {
  console.error(`cascade-app: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
