// A game day's session: the run steered by hand. It is a LiveRun (run/run.ts) — the topology, the
// observer, the record, the teardown and the analysis are a scripted run's — and adds what people
// in the room do: apply a fault now (any kind, through the fault registry, so its revert is the
// module's own), revert it, change the load's rate, pause it, burst it, write notes, halt
// everything, end. Every action is an event of the record with its time and who did it; the
// session as played becomes the scenario that replays it (export.ts).
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { needsNodes } from "../faults/registry.js";
import type { FaultEvent, Timeline } from "../faults/scheduler.js";
import { type LoadControl, LoadControl as Control, type LoadSample, type RatePhase } from "../load/driver.js";
import type { ComponentsSample } from "../observe/observer.js";
import { chartSpec, liveChartsOf, type VlSpec } from "../report/charts.js";
import { type ActionLine, liveModel } from "../report/model.js";
import type { LiveRun } from "../run/run.js";
import { Fault, isLinkFault, linkName, MAX_RATE, type Scenario } from "../scenario/schema.js";
import type { TopologyPlan } from "../topology/plan.js";
import { asPlayed } from "./export.js";

/** Halt must be done in this; what is still reverting after it is reported, not waited for. */
export const HALT_BOUND_MS = 10_000;
/** After the load reached its horizon, the session ends by itself this much later. */
const GRACE_AFTER_LOAD_MS = 120_000;
const MAX_BURST_MS = 60_000;
const MAX_TEXT = 2000;
const MAX_NAME = 64;

export type SessionState = "starting" | "running" | "halted" | "ended";

export interface ActiveFault {
  label: string;
  kind: string;
  target: string;
  by: string | undefined;
  since_ms: number;
  /** ms from load start at which it reverts by itself */
  until_ms?: number;
}

/** What the page shows besides the charts. */
export interface Snapshot {
  scenario: string;
  description: string;
  state: SessionState;
  elapsed_ms: number;
  load: { rate: number; paused: boolean; running: boolean; horizon_ms: number };
  services: Array<{ name: string; kind: string; replicas: number }>;
  links: string[];
  active: ActiveFault[];
  actions: ActionLine[];
  faults: FaultEvent[];
  last_halt_ms?: number;
}

export class ActionRefused extends Error {}

/** The body of a POST /api/action. */
export const ActionBody = z.discriminatedUnion("action", [
  z.object({ action: z.literal("join"), by: z.string() }),
  z.object({ action: z.literal("fault"), by: z.string(), fault: z.record(z.string(), z.unknown()) }),
  z.object({ action: z.literal("revert"), by: z.string(), label: z.string() }),
  z.object({ action: z.literal("rate"), by: z.string(), rate: z.number().min(0).max(MAX_RATE) }),
  z.object({ action: z.literal("pause"), by: z.string() }),
  z.object({ action: z.literal("resume"), by: z.string() }),
  z.object({
    action: z.literal("burst"),
    by: z.string(),
    rate: z.number().positive().max(MAX_RATE),
    seconds: z
      .number()
      .positive()
      .max(MAX_BURST_MS / 1000),
  }),
  z.object({ action: z.literal("note"), by: z.string(), text: z.string() }),
  z.object({ action: z.literal("halt"), by: z.string() }),
  z.object({ action: z.literal("end"), by: z.string() }),
]);
export type ActionBody = z.infer<typeof ActionBody>;

const within = <T>(p: Promise<T>, ms: number): Promise<T | "timeout"> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), ms);
    }),
  ]).finally(() => clearTimeout(timer));
};

export class GameDay implements LiveRun {
  readonly control: LoadControl = new Control();
  readonly phases: RatePhase[];
  readonly horizonMs: number;
  private timeline: Timeline | undefined;
  private plan: TopologyPlan | undefined;
  private t0 = 0;
  private note: ((e: object) => void) | undefined;
  private readonly load: LoadSample[] = [];
  private readonly components: ComponentsSample[] = [];
  private readonly faultEvents: FaultEvent[] = [];
  private readonly actions: ActionLine[] = [];
  /** label → the fault as asked for by hand */
  private readonly inputs = new Map<string, Record<string, unknown>>();
  private readonly autoReverts = new Map<string, NodeJS.Timeout>();
  private readonly untils = new Map<string, number>();
  private rate: number;
  private lastRate: number;
  private state: SessionState = "starting";
  private lastHaltMs: number | undefined;
  private counter = 0;
  private endSession: () => void = () => {};
  private readonly endPromise: Promise<void>;
  private readonly listeners = new Set<(event: string, data: unknown) => void>();
  private chartTimer: NodeJS.Timeout | undefined;
  /** ms the last chart update took to compute (the harness's own cost, shown on the page) */
  chartMs = 0;

  constructor(
    readonly scenario: Scenario,
    private readonly source: string,
    opts: { horizonMs: number; file: string },
  ) {
    // The scenario's phases, then its last rate held to the horizon: a game day lasts as long as
    // the room wants (up to the horizon), not as long as the script.
    const declared = scenario.load.phases;
    const total = declared.reduce((t, p) => t + p.duration, 0);
    const last = declared[declared.length - 1] as RatePhase;
    const end = last.to ?? last.rate;
    this.horizonMs = Math.max(opts.horizonMs, total);
    this.phases = total < this.horizonMs ? [...declared, { duration: this.horizonMs - total, rate: end }] : [...declared];
    this.rate = declared[0]?.rate ?? 0;
    this.lastRate = end;
    this.file = opts.file;
    this.endPromise = new Promise<void>((resolve) => {
      this.endSession = resolve;
    });
  }

  private readonly file: string;

  // ------------------------------------------------------------------ LiveRun

  started(parts: { timeline: Timeline; plan: TopologyPlan; t0: number; note: (e: object) => void }): void {
    this.timeline = parts.timeline;
    this.plan = parts.plan;
    this.t0 = parts.t0;
    this.note = parts.note;
    this.state = "running";
    this.chartTimer = setInterval(() => this.pushCharts(), 1000);
    this.chartTimer.unref();
    this.broadcast("state", this.snapshot());
  }

  onFault(e: FaultEvent): void {
    this.faultEvents.push(e);
    if (e.action !== "apply") {
      const t = this.autoReverts.get(e.fault);
      if (t && e.action === "revert") {
        clearTimeout(t);
        this.autoReverts.delete(e.fault);
      }
    }
    this.broadcast("state", this.snapshot());
  }

  onLoad(s: LoadSample): void {
    this.load.push(s);
    // The rate the profile has now (a scripted phase change shows on the page too).
    this.rate = this.currentRate();
  }

  onComponents(c: ComponentsSample): void {
    this.components.push(c);
  }

  async ended(signal: AbortSignal): Promise<void> {
    const grace = setTimeout(
      () => {
        if (this.state !== "ended") void this.end("(session)", "the load reached its horizon");
      },
      Math.max(0, this.horizonMs - this.elapsed()) + GRACE_AFTER_LOAD_MS,
    );
    const onAbort = () => this.endSession();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await this.endPromise;
    } finally {
      clearTimeout(grace);
      signal.removeEventListener("abort", onAbort);
      this.stopCharts();
    }
  }

  asPlayed(): { scenario: Scenario; source: string } {
    const names = [...new Set(this.actions.map((a) => a.by).filter((b) => !b.startsWith("(")))];
    const day = new Date(performance.timeOrigin + this.t0).toISOString().slice(0, 16).replace("T", " ");
    return asPlayed({
      source: this.source,
      scenario: this.scenario,
      events: this.faultEvents,
      inputs: this.inputs,
      phases: this.control.applied(),
      heading: `Game day of ${day} UTC${names.length ? ` (${names.join(", ")})` : ""}, as played: replays its load and faults.`,
      file: this.file,
    });
  }

  // ------------------------------------------------------------------ the page's actions

  subscribe(fn: (event: string, data: unknown) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  elapsed(): number {
    return this.state === "starting" ? 0 : performance.now() - this.t0;
  }

  /** Runs one action from the page; refused (ActionRefused) with a reason the page shows. */
  async act(body: ActionBody): Promise<Record<string, unknown>> {
    const by = body.by.trim();
    if (!by || by.length > MAX_NAME) throw new ActionRefused(`a name of 1 to ${MAX_NAME} characters is needed`);
    if (this.state === "starting") throw new ActionRefused("the topology is still coming up");
    if (this.state === "ended") throw new ActionRefused("the session has ended");
    switch (body.action) {
      case "join":
        this.action(by, "join", `${by} joined`);
        return {};
      case "note": {
        const text = body.text.trim();
        if (!text || text.length > MAX_TEXT) throw new ActionRefused(`a note of 1 to ${MAX_TEXT} characters`);
        this.action(by, "note", `note: ${text}`);
        return {};
      }
      case "fault":
        return this.applyFault(body.fault, by);
      case "revert": {
        const e = await this.timelineOf().revertNow(body.label, by);
        if (!e) throw new ActionRefused(`${body.label} is not active`);
        return { event: e };
      }
      case "rate":
        return this.steer(by, "rate", () => this.control.setRate(body.rate), body.rate, `load rate set to ${body.rate} req/s`);
      case "pause":
        return this.steer(by, "pause", () => this.control.setRate(0), 0, "load paused");
      case "resume":
        return this.steer(by, "resume", () => this.control.setRate(this.lastRate), this.lastRate, `load resumed at ${this.lastRate} req/s`);
      case "burst": {
        const back = this.rate;
        return this.steer(
          by,
          "burst",
          () => this.control.burst(body.rate, body.seconds * 1000, back),
          body.rate,
          `burst of ${body.rate} req/s for ${body.seconds} s, then ${back} req/s`,
        );
      }
      case "halt":
        return this.halt(by);
      case "end":
        return this.end(by);
    }
  }

  private steer(by: string, action: string, fn: () => number, rate: number, text: string): Record<string, unknown> {
    if (this.state === "halted") throw new ActionRefused("halted: the load stays stopped; end the session");
    if (!this.control.running) throw new ActionRefused("the load is not running");
    const at = fn();
    this.rate = rate;
    if (rate > 0 && action !== "burst") this.lastRate = rate;
    this.action(by, action, text, at);
    return { at_ms: Math.round(at) };
  }

  private async applyFault(asked: Record<string, unknown>, by: string): Promise<Record<string, unknown>> {
    if (this.state === "halted") throw new ActionRefused("halted: no fault can be applied; end the session");
    if (!this.control.running) throw new ActionRefused("the load has ended: a fault now would act on no load; end the session");
    const { at: _at, ...input } = asked;
    const parsed = Fault.safeParse({ ...input, at: 0 });
    if (!parsed.success) throw new ActionRefused(parsed.error.issues.map((i) => `${i.path.join(".") || "fault"}: ${i.message}`).join("; "));
    const f = parsed.data;
    const problem = this.targetProblem(f);
    if (problem) throw new ActionRefused(problem);
    const label = this.labelFor(f);
    const at = this.elapsed();
    const fault = { ...f, at };
    this.inputs.set(label, { ...input, name: label });
    const e = await this.timelineOf().applyNow(fault, label, by);
    const duration = "duration" in f ? f.duration : undefined;
    if (e.action === "apply" && duration !== undefined && this.timelineOf().activeFaults().includes(label)) {
      this.untils.set(label, e.actual_ms + duration);
      const timer = setTimeout(
        () => {
          this.autoReverts.delete(label);
          void this.timelineOf()
            .revertNow(label, by)
            .catch(() => {});
        },
        Math.max(0, e.actual_ms + duration - this.elapsed()),
      );
      this.autoReverts.set(label, timer);
    }
    if (e.action === "error") throw new ActionRefused(e.error ?? "apply failed");
    return { event: e };
  }

  private targetProblem(f: Fault): string | undefined {
    if (isLinkFault(f)) {
      const proxied = this.scenario.links.filter((l) => l.proxy).map(linkName);
      return proxied.includes(f.link) ? undefined : `no proxied link ${f.link} (links: ${proxied.join(", ") || "none"})`;
    }
    if (needsNodes(f.kind)) return `${f.kind} faults are not offered in a game day yet`;
    if ("service" in f && !(f.service in this.scenario.services)) return `no service ${f.service}`;
    return undefined;
  }

  private labelFor(f: Fault): string {
    const taken = new Set(this.faultEvents.map((e) => e.fault));
    for (const f0 of this.scenario.faults) if (f0.name) taken.add(f0.name);
    const base = (f.name ?? "").trim() || `${f.kind}-${"link" in f ? f.link.replace("->", "-") : "node" in f ? f.node : f.service}`;
    let label = base;
    while (taken.has(label) || this.inputs.has(label)) label = `${base}-${++this.counter}`;
    return label;
  }

  /** Stops the load and reverts every fault, all at once; measured, and bounded by HALT_BOUND_MS. */
  async halt(by: string): Promise<Record<string, unknown>> {
    if (this.state === "halted") return { halt_ms: this.lastHaltMs };
    const t = performance.now();
    const at = this.elapsed();
    const timeline = this.timelineOf();
    timeline.cancelPending();
    for (const timer of this.autoReverts.values()) clearTimeout(timer);
    this.autoReverts.clear();
    let loadStopped = false;
    if (this.control.running) {
      this.control.stop();
      loadStopped = true;
    }
    const active = timeline.activeFaults();
    const done = await within(timeline.revertAll(by), HALT_BOUND_MS);
    const ms = Math.round(performance.now() - t);
    this.lastHaltMs = ms;
    this.state = "halted";
    const reverted = done === "timeout" ? [] : done.filter((e) => e.action === "revert").map((e) => e.fault);
    const failed = done === "timeout" ? active : done.filter((e) => e.action === "error").map((e) => e.fault);
    this.action(
      by,
      "halt",
      `HALT: ${loadStopped ? "load stopped" : "load was not running"}, ${reverted.length} fault(s) reverted${failed.length ? `, ${failed.length} not (${failed.join(", ")})` : ""} in ${ms} ms`,
      at,
      { halt_ms: ms, reverted, failed },
    );
    return { halt_ms: ms, reverted, failed, load_stopped: loadStopped };
  }

  /** Halts (if not yet), then lets the run tear down and write its record. */
  async end(by: string, why = "session ended"): Promise<Record<string, unknown>> {
    if (this.state === "ended") return {};
    const halted = this.state === "halted" ? {} : await this.halt(by);
    this.action(by, "end", why);
    this.state = "ended";
    this.broadcast("state", this.snapshot());
    this.endSession();
    return halted;
  }

  // ------------------------------------------------------------------ state for the page

  snapshot(): Snapshot {
    const applied = new Map<string, FaultEvent>();
    for (const e of this.faultEvents) if (e.action === "apply") applied.set(e.fault, e);
    const active: ActiveFault[] = (this.timeline?.activeFaults() ?? []).map((label) => {
      const e = applied.get(label);
      const until = this.untils.get(label);
      return {
        label,
        kind: e?.kind ?? "?",
        target: String(e?.detail?.link ?? e?.detail?.service ?? ""),
        by: e?.by,
        since_ms: e?.actual_ms ?? 0,
        ...(until !== undefined ? { until_ms: until } : {}),
      };
    });
    return {
      scenario: this.scenario.name,
      description: this.scenario.description,
      state: this.state,
      elapsed_ms: Math.round(this.elapsed()),
      load: { rate: this.rate, paused: this.rate === 0, running: this.control.running, horizon_ms: this.horizonMs },
      services: Object.entries(this.scenario.services).map(([name, s]) => ({ name, kind: s.kind, replicas: s.replicas })),
      links: this.scenario.links.filter((l) => l.proxy).map(linkName),
      active,
      actions: this.actions,
      faults: this.faultEvents,
      ...(this.lastHaltMs !== undefined ? { last_halt_ms: this.lastHaltMs } : {}),
    };
  }

  /** The live charts (the report's own specs, on the data so far), and what computing them took. */
  charts(): { specs: Array<{ name: string; spec: VlSpec }>; ms: number } {
    const t = performance.now();
    if (!this.plan) return { specs: [], ms: 0 };
    const m = liveModel(
      {
        scenario: this.scenario,
        plan: this.plan,
        load: this.load,
        components: this.components,
        faults: this.faultEvents,
        calibrations: [],
      },
      [],
      { id: `game day · ${Math.round(this.elapsed() / 1000)} s`, dir: "" },
      this.actions,
    );
    const specs = liveChartsOf(m)
      .filter((c) => c.name !== "saturation")
      .map((c) => ({ name: c.name, spec: chartSpec(c, m, { width: 640 }) }));
    this.chartMs = Math.round((performance.now() - t) * 10) / 10;
    return { specs, ms: this.chartMs };
  }

  private pushCharts(): void {
    if (!this.listeners.size || !this.load.length) return;
    const charts = this.charts();
    this.broadcast("charts", charts);
    this.broadcast("state", this.snapshot());
  }

  private stopCharts(): void {
    if (this.chartTimer) clearInterval(this.chartTimer);
    this.chartTimer = undefined;
  }

  // ------------------------------------------------------------------ internals

  private timelineOf(): Timeline {
    if (!this.timeline) throw new ActionRefused("the topology is still coming up");
    return this.timeline;
  }

  private currentRate(): number {
    const applied = this.control.applied();
    const last = applied[applied.length - 1];
    return last ? (last.to ?? last.rate) : this.rate;
  }

  private action(by: string, action: string, text: string, at = this.elapsed(), extra: Record<string, unknown> = {}): void {
    const line: ActionLine = {
      type: "action",
      time: new Date(performance.timeOrigin + this.t0 + at).toISOString(),
      at_ms: Math.round(at),
      by,
      action,
      text,
    };
    this.actions.push(line);
    this.note?.({ ...line, ...extra });
    this.broadcast("state", this.snapshot());
  }

  private broadcast(event: string, data: unknown): void {
    for (const fn of this.listeners) fn(event, data);
  }
}
