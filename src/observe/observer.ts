// Reads every sampler once a second, aligned to the load's seconds, and hands one record per
// second to the run record. A sampler that fails or is slow marks its series missing for that
// second; it never stops the run or delays the next tick.
import type { Reading, Sampler } from "./samplers.js";

export interface ComponentsSample {
  kind: "components";
  /** seconds since load start at which the readings were taken (end of load second t-1) */
  t: number;
  ts: string;
  /** "cache-1.memcached" → reading */
  readings: Record<string, Reading>;
  /** samplers with no reading this second, and why */
  missing: Record<string, string>;
  /** when each reading was taken, in seconds since load start: the midpoint of its request. A
   * reading answered late (a busy app's /metrics) is dated late, so counter rates are taken over
   * the real time between readings, not a nominal second. Optional: older records lack it. */
  at?: Record<string, number>;
}

export const samplerKey = (s: Pick<Sampler, "name" | "source">) => `${s.name}.${s.source}`;

export class Observer {
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private tick = 0;
  private stopped = false;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly samplers: Sampler[],
    private readonly emit: (s: ComponentsSample) => void,
    private readonly opts: { intervalMs?: number; timeoutMs?: number } = {},
  ) {}

  /** t0: performance.now() at load start. Takes a first reading at once (t = 0). */
  start(t0: number): void {
    this.t0 = t0;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const interval = this.opts.intervalMs ?? 1000;
    const due = this.t0 + this.tick * interval;
    this.timer = setTimeout(
      () => {
        const t = this.tick++;
        this.pending = this.pending.then(() => this.sample(t));
        this.schedule();
      },
      Math.max(0, due - performance.now()),
    );
  }

  private async sample(t: number): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 900;
    const readings: Record<string, Reading> = {};
    const missing: Record<string, string> = {};
    const at: Record<string, number> = {};
    const ts = new Date().toISOString();
    await Promise.all(
      this.samplers.map(async (s) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const sent = performance.now();
          readings[samplerKey(s)] = await Promise.race([
            s.read(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no reading in ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
          at[samplerKey(s)] = Math.round((sent + performance.now()) / 2 - this.t0) / 1000;
        } catch (e) {
          missing[samplerKey(s)] = (e as Error).message.slice(0, 200);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    this.emit({ kind: "components", t, ts, readings, missing, at });
  }

  /** Takes a last reading (the state right after the load), then stops. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    const t = this.tick++;
    this.pending = this.pending.then(() => this.sample(t));
    await this.pending;
    await Promise.all(this.samplers.map((s) => s.close?.().catch(() => {})));
  }
}
