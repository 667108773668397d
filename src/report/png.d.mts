// Types of png.mjs (plain JavaScript, so that the rasterizer thread can load it without tsx).
import type { ResvgRenderOptions } from "@resvg/resvg-js";

/** RGBA pixels → PNG bytes (filter 0 rows, zlib level 3). */
export function encodePng(rgba: Buffer, width: number, height: number): Buffer;

/** An SVG drawn at `scale` with these fonts on white, as PNG bytes and its size in pixels. */
export function rasterize(svg: string, scale: number, font: ResvgRenderOptions["font"]): { png: Buffer; width: number; height: number };
