// Small shared pieces of the load tests: a local target answering at once, and whether a process
// (one the test started, by its pid) is still there.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "vitest";

/** An HTTP target on 127.0.0.1 answering "ok" at once, counting requests; closed when the test finishes. */
export async function localTarget(ctx: TestContext): Promise<{ url: string; count: () => number }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    n++;
    req.resume();
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  ctx.onTestFinished(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, count: () => n };
}

/** True while the process `pid` exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
