// Shared by the report tests: fixture copies (the recorded run, and a variant whose scenario,
// faults and events carry markup) and a small PNG reader.
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";

export const FIXTURE = fileURLToPath(new URL("../fixtures/runs/cold-cache-load-shift/", import.meta.url));
export const XSS = "<script>alert(1)</script>";
export const XSS_IMG = "<img src=x onerror=alert(2)>";

/** A copy of the recorded run in a fresh temporary folder (the fixture itself stays untouched). */
export function copyRun(into?: string): string {
  const dir = into ?? mkdtempSync(join(tmpdir(), "cascade-report-"));
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

/** The recorded run with markup in the scenario's description, a fault's name (scenario and
 * events), a fault's error text and a container event's service name. */
export function markupRun(into?: string): string {
  const dir = copyRun(into);
  const yaml = readFileSync(join(dir, "scenario.yaml"), "utf8")
    .replace(/^description: .*$/m, `description: 'Markup ${XSS} in the description'`)
    .replace("name: slow-cache,", `name: '${XSS}',`);
  writeFileSync(join(dir, "scenario.yaml"), yaml);
  const events = readFileSync(join(dir, "events.ndjson"), "utf8").replaceAll('"fault":"slow-cache"', `"fault":${JSON.stringify(XSS)}`);
  writeFileSync(join(dir, "events.ndjson"), events);
  const failed = {
    type: "fault",
    action: "error",
    fault: "kill-cache",
    kind: "kill",
    time: "2026-11-23T11:06:03.889Z",
    planned_ms: 15000,
    actual_ms: 15000,
    lag_ms: 0,
    took_ms: 3,
    error: `toxiproxy said ${XSS}`,
  };
  const foreign = { time: "2026-11-23T11:06:04.100Z", type: "container", service: XSS_IMG, replica: 1, action: "die", exitCode: 1 };
  appendFileSync(join(dir, "events.ndjson"), `${JSON.stringify(failed)}\n${JSON.stringify(foreign)}\n`);
  return dir;
}

export interface Png {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** RGBA, 4 bytes a pixel */
  rgba: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Reads an 8-bit RGB/RGBA PNG (what resvg writes): signature, IHDR, IDAT inflated and unfiltered. */
export function readPng(buf: Buffer): Png {
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG: bad signature");
  let off = 8;
  let ihdr: Buffer | null = null;
  const idat: Buffer[] = [];
  let ended = false;
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString("latin1", off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") ihdr = data;
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") ended = true;
    off += 12 + len;
  }
  if (!ihdr || off !== buf.length || !ended) throw new Error("truncated PNG");
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const bitDepth = ihdr[8] as number;
  const colorType = ihdr[9] as number;
  if (bitDepth !== 8 || (colorType !== 6 && colorType !== 2))
    throw new Error(`unsupported PNG: depth ${bitDepth}, colour type ${colorType}`);
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  if (raw.length !== height * (stride + 1)) throw new Error("PNG data does not match its size");
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    const line = new Uint8Array(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? (line[i - bpp] as number) : 0;
      const b = prev[i] as number;
      const c = i >= bpp ? (prev[i - bpp] as number) : 0;
      let add = 0;
      if (filter === 1) add = a;
      else if (filter === 2) add = b;
      else if (filter === 3) add = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
      line[i] = ((line[i] as number) + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      out[o] = line[x * bpp] as number;
      out[o + 1] = line[x * bpp + 1] as number;
      out[o + 2] = line[x * bpp + 2] as number;
      out[o + 3] = bpp === 4 ? (line[x * bpp + 3] as number) : 255;
    }
    prev = line;
  }
  return { width, height, bitDepth, colorType, rgba: out };
}

/** How many pixels are not (near) white, how many distinct colours there are, and how many are near a colour. */
export function pixelStats(png: Png, near?: [number, number, number], tolerance = 6) {
  const colors = new Set<number>();
  let ink = 0;
  let close = 0;
  for (let i = 0; i < png.rgba.length; i += 4) {
    const r = png.rgba[i] as number;
    const g = png.rgba[i + 1] as number;
    const b = png.rgba[i + 2] as number;
    colors.add((r << 16) | (g << 8) | b);
    if (r < 245 || g < 245 || b < 245) ink++;
    if (near && Math.abs(r - near[0]) <= tolerance && Math.abs(g - near[1]) <= tolerance && Math.abs(b - near[2]) <= tolerance) close++;
  }
  return { pixels: png.width * png.height, ink, colors: colors.size, close };
}
