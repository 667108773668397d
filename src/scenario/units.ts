// Unit parsing for scenario values. Each returns undefined on input it does not understand, so
// the schema can report the field instead of throwing.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms" | "10s" | "1.5m" | "1h" | number-of-seconds → milliseconds. */
export function parseDuration(v: number | string): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v * 1000 : undefined;
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(v);
  if (!m) return undefined;
  return Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
}

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** "64m" | "1g" | "512MiB" | bytes → bytes (binary multiples, as docker reads them). */
export function parseBytes(v: number | string): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? Math.round(v) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return undefined;
  const unit = BYTE_UNITS[(m[2] as string).toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

/** "99.5%" | 0.995 → 0.995; only shares in [0, 1]. */
export function parsePercent(v: number | string): number | undefined {
  let p: number;
  if (typeof v === "number") p = v;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v);
    if (!m) return undefined;
    p = Number(m[1]) / 100;
  }
  return p >= 0 && p <= 1 ? p : undefined;
}

export interface ShareRange {
  min?: number;
  max?: number;
}

/** "40%..80%" | "..50%" | "150%.." | "60%" (at least) → shares, which may pass 100 % (a demand of
 * 1.8 = 180 % of a limit). Bounds are given with %; the lower must not exceed the upper. */
export function parseShareRange(v: string | number): ShareRange | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? { min: v } : undefined;
  const share = (x: string): number | undefined => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(x);
    return m ? Number(m[1]) / 100 : undefined;
  };
  const parts = v.split("..");
  if (parts.length === 1) {
    const min = share(v);
    return min === undefined ? undefined : { min };
  }
  if (parts.length !== 2) return undefined;
  const [lo, hi] = parts.map((p) => p.trim()) as [string, string];
  const min = lo === "" ? undefined : share(lo);
  const max = hi === "" ? undefined : share(hi);
  if ((lo !== "" && min === undefined) || (hi !== "" && max === undefined) || (min === undefined && max === undefined)) return undefined;
  if (min !== undefined && max !== undefined && min > max) return undefined;
  return { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
}

export const formatShareRange = (r: ShareRange): string =>
  r.min !== undefined && r.max !== undefined
    ? `${Math.round(r.min * 100)}–${Math.round(r.max * 100)} %`
    : r.min !== undefined
      ? `at least ${Math.round(r.min * 100)} %`
      : `at most ${Math.round((r.max ?? 0) * 100)} %`;

export function formatMs(ms: number): string {
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(ms % 60_000 ? 1 : 0)}m`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)}s`;
  return `${Math.round(ms)}ms`;
}
