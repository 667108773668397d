// Which image source a command uses: --images flag, then CASCADE_IMAGES, then what the last
// `cascade images build` on this machine chose, then official images.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stateDir } from "../paths.js";
import type { ImageSource } from "./catalog.js";

const file = () => join(stateDir(), "config.json");

/** A source that is not "official" or "offline", or a config file that cannot be read: one line. */
export class SourceInvalid extends Error {
  override readonly name = "SourceInvalid";
}

export function resolveSource(flag?: string): { source: ImageSource; from: string } {
  const check = (v: unknown, from: string) => {
    if (v !== "official" && v !== "offline")
      throw new SourceInvalid(`${from}: the image source must be "official" or "offline", not ${JSON.stringify(v)}`);
    return { source: v as ImageSource, from };
  };
  if (flag) return check(flag, "--images");
  if (process.env.CASCADE_IMAGES) return check(process.env.CASCADE_IMAGES, "CASCADE_IMAGES");
  const saved = savedConfig().images;
  if (saved !== undefined) return check(saved, file());
  return { source: "official", from: "default" };
}

function savedConfig(): { images?: unknown } {
  if (!existsSync(file())) return {};
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file(), "utf8"));
  } catch (e) {
    throw new SourceInvalid(`${file()}: not valid JSON (${(e as Error).message}); fix it or delete it`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new SourceInvalid(`${file()}: must be a JSON object; fix it or delete it`);
  return v as { images?: unknown };
}

export function saveSource(source: ImageSource): void {
  mkdirSync(stateDir(), { recursive: true });
  let prev: object = {};
  try {
    prev = savedConfig();
  } catch {
    // a damaged file is replaced by the choice just made
  }
  writeFileSync(file(), `${JSON.stringify({ ...prev, images: source }, null, 2)}\n`);
}
