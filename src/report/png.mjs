// SVG → PNG: resvg draws the pixels, zlib compresses them into a PNG. Plain JavaScript, shared by
// the rasterizer thread (raster-worker.mjs) and the main thread (one-off renders, and the last
// charts of a report when the thread is still busy), so a PNG's bytes do not depend on who drew it.
import { deflateSync } from "node:zlib";
import { Resvg } from "@resvg/resvg-js";

const CRC_TABLE = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** RGBA pixels → PNG: rows with filter 0, compressed by zlib (resvg's own encoder is slower).
 * Level 3, not zlib's default 6: the five PNGs of a 30-minute run compress in 52 ms of CPU instead
 * of 245 ms (levels 4 and up search lazily), for 1.06 MB instead of 0.71 MB; the pixels are the same.
 * Synchronous, not on libuv's pool: on 2 cores a third busy thread slowed the main thread's charts
 * (first report 1.14 s median of 5 against 1.30 s, 1.68 s of CPU against 1.79 s). */
export function encodePng(rgba, width, height) {
  const stride = width * 4;
  const raw = Buffer.allocUnsafe(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    rgba.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const idat = deflateSync(raw, { level: 3 });
  return Buffer.concat([SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", Buffer.alloc(0))]);
}

/** An SVG drawn at `scale` (resvg options: font as render.ts gives it, white background). */
export function rasterize(svg, scale, font) {
  const img = new Resvg(svg, { fitTo: { mode: "zoom", value: scale }, font, background: "white" }).render();
  return { png: encodePng(img.pixels, img.width, img.height), width: img.width, height: img.height };
}
