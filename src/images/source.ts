// Which image source a command uses: --images flag, then CASCADE_IMAGES, then what the last
// `cascade images build` on this machine chose, then official images.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stateDir } from "../paths.js";
import type { ImageSource } from "./catalog.js";

const file = () => join(stateDir(), "config.json");

export function resolveSource(flag?: string): { source: ImageSource; from: string } {
  const check = (v: string, from: string) => {
    if (v !== "official" && v !== "offline") throw new Error(`${from}: images source must be "official" or "offline", not "${v}"`);
    return { source: v as ImageSource, from };
  };
  if (flag) return check(flag, "--images");
  if (process.env.CASCADE_IMAGES) return check(process.env.CASCADE_IMAGES, "CASCADE_IMAGES");
  if (existsSync(file())) {
    const saved = (JSON.parse(readFileSync(file(), "utf8")) as { images?: string }).images;
    if (saved) return check(saved, file());
  }
  return { source: "official", from: "default" };
}

export function saveSource(source: ImageSource): void {
  mkdirSync(stateDir(), { recursive: true });
  const prev = existsSync(file()) ? (JSON.parse(readFileSync(file(), "utf8")) as object) : {};
  writeFileSync(file(), `${JSON.stringify({ ...prev, images: source }, null, 2)}\n`);
}
