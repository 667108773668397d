// Process entry of the reference app (bundled into one file by build.ts, run as `node app.js`).
import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { errorMessage } from "./timeout.js";

const log = (line: string): void => console.log(line);

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`cascade-app: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }

  const app = await startApp(config, { log });
  log(`cascade-app listening on :${app.port}`);

  let exiting = false;
  const exit = (code: number, why: string): void => {
    if (exiting) return;
    exiting = true;
    log(`cascade-app: ${why}, shutting down`);
    // Whatever happens while closing, the process is gone a few seconds later.
    setTimeout(() => process.exit(code), config.cacheTimeoutMs + config.dbQueryTimeoutMs + 5000).unref();
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
