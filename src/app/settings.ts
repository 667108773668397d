// The settings in force in one process, changeable at run time (POST /admin/config, or the cluster
// master forwarding one). Components read `current` at each use where that is enough, and subscribe
// where a change needs action (resize the slots, rebuild cache clients, reschedule jobs).
import type { AppSettings } from "./config.js";

export type SettingsListener = (next: AppSettings, prev: AppSettings) => void;

export class LiveSettings {
  private value: AppSettings;
  private readonly listeners: SettingsListener[] = [];

  constructor(initial: AppSettings) {
    this.value = Object.freeze({ ...initial });
  }

  get current(): AppSettings {
    return this.value;
  }

  onChange(listener: SettingsListener): void {
    this.listeners.push(listener);
  }

  /** Replaces the settings (already validated) and tells every listener. */
  replace(next: AppSettings): void {
    const prev = this.value;
    this.value = Object.freeze({ ...next });
    for (const listener of this.listeners) listener(this.value, prev);
  }
}

/** Whether any of `keys` differs between two settings. */
export function changed(a: AppSettings, b: AppSettings, ...keys: (keyof AppSettings)[]): boolean {
  return keys.some((k) => a[k] !== b[k]);
}
