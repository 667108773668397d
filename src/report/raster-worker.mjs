// The chart rasterizer's thread: SVG → PNG (png.mjs) off the main thread, which is busy making the
// next chart's SVG with vega. Plain JavaScript: it is started without the process's loaders (tsx),
// and this file needs nothing of ours.
// Protocol: { id, svg, scale, claim } in; { id, png, width, height } or { id, error } out. `claim`
// (an Int32Array on shared memory) is 0 while the job waits: the thread takes it by setting 1, the
// main thread by setting 2 (it then draws it itself, and this thread skips it).
import { parentPort, workerData } from "node:worker_threads";
import { rasterize } from "./png.mjs";

parentPort?.on("message", ({ id, svg, scale, claim }) => {
  if (Atomics.compareExchange(claim, 0, 0, 1) !== 0) return;
  try {
    const { png, width, height } = rasterize(svg, scale, workerData.font);
    // a copy of exactly the PNG's bytes, handed over without another copy
    const bytes = png.buffer.slice(png.byteOffset, png.byteOffset + png.length);
    parentPort.postMessage({ id, png: bytes, width, height }, [bytes]);
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
