// Secrets in a scenario's `env:`. A value may name a variable of the harness's environment,
// `${NAME}`: it is resolved only when the container is created, so the secret is never in the
// scenario, the plan or the run record. A literal value under a key that looks secret (password,
// token, key…) is written to the record as "<redacted>" — in plan.json and in the copy of the
// scenario kept with the run.
import { isMap, isPair, isScalar, parseDocument } from "yaml";
import type { Scenario } from "./schema.js";

export const SECRET_KEY = /pass|secret|token|key|credential|auth|private/i;
export const REDACTED = "<redacted>";
const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The value with each ${NAME} replaced from `env`; throws naming the first one that is unset. */
export function resolveRefs(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(REF, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new Error(`\${${name}} is not set in the harness's environment`);
    return v;
  });
}

/** Every ${NAME} a scenario's env refers to that `env` does not set, with where it is. */
export function unsetRefs(
  s: Scenario,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): Array<{ line: number; field: string; name: string }> {
  const out: Array<{ line: number; field: string; name: string }> = [];
  for (const [svc, def] of Object.entries(s.services))
    for (const [k, v] of Object.entries(def.env ?? {}))
      for (const m of v.matchAll(REF)) {
        const name = m[1] as string;
        if (env[name] !== undefined) continue;
        const at = source.indexOf(m[0]);
        out.push({ line: at < 0 ? 1 : source.slice(0, at).split("\n").length, field: `services.${svc}.env.${k}`, name });
      }
  return out;
}

/** A literal secret-looking value is redacted; a ${NAME} reference is kept (it is no secret). */
export const redactValue = (key: string, value: string): string =>
  SECRET_KEY.test(key) && !/^\$\{[^}]+\}$/.test(value) ? REDACTED : value;

/** The scenario's text with literal secret values under services.*.env redacted; the text itself
 * (comments, layout) when there is nothing to redact. */
export function redactSource(source: string): string {
  const doc = parseDocument(source);
  let changed = false;
  const services = doc.get("services");
  if (!isMap(services)) return source;
  for (const svc of services.items) {
    if (!isPair(svc) || !isMap(svc.value)) continue;
    const env = svc.value.get("env");
    if (!isMap(env)) continue;
    for (const pair of env.items) {
      if (!isScalar(pair.key) || !isScalar(pair.value)) continue;
      const v = String(pair.value.value);
      if (redactValue(String(pair.key.value), v) === v) continue;
      pair.value.value = REDACTED;
      changed = true;
    }
  }
  return changed ? doc.toString() : source;
}
