// cascade init --from <compose.yml>: write a scenario from a compose file, say what was not
// carried over and what to fill in, and check the result as `validate` would.
import { existsSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ComposeInvalid, composeToScenario } from "../scenario/compose.js";
import { MAX_SCENARIO_BYTES, notUtf8Text, parseScenario, ScenarioInvalid } from "../scenario/load.js";
import { EXIT } from "./exit.js";

export async function initCommand(o: { from: string; out?: string; force?: boolean }): Promise<number> {
  const file = o.from;
  const out = o.out ?? join(dirname(file), "cascade.yaml");
  const fail = (message: string) => {
    process.stderr.write(`${file}: ${message}\n`);
    return EXIT.invalidScenario;
  };
  let text: string;
  try {
    const st = await stat(file);
    if (st.isDirectory()) return fail("is a directory, not a compose file");
    if (st.size > MAX_SCENARIO_BYTES) return fail(`the file is ${(st.size / 2 ** 20).toFixed(1)} MiB; not a compose file Cascade reads`);
    const bytes = await readFile(file);
    const encoding = notUtf8Text(bytes);
    if (encoding) return fail(encoding);
    text = bytes.toString("utf8").replace(/^\uFEFF/, "");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(code === "ENOENT" ? "file not found" : (e as Error).message);
  }
  if (resolve(out) === resolve(file)) {
    process.stderr.write(`${out} is the compose file itself; --out names where the scenario goes\n`);
    return EXIT.usage;
  }
  // Checked before converting, so a refused overwrite writes and prints nothing else.
  if (existsSync(out) && !o.force) {
    process.stderr.write(`${out} exists; --force overwrites it, or --out names another file\n`);
    return EXIT.usage;
  }

  let r: ReturnType<typeof composeToScenario>;
  try {
    r = composeToScenario(text, { file, out });
  } catch (e) {
    if (!(e instanceof ComposeInvalid)) throw e;
    process.stderr.write(`${e.message}\n`);
    return EXIT.invalidScenario;
  }
  for (const n of r.notes) process.stderr.write(`${file}:${n.line}: ${n.service ? `${n.service}: ` : ""}${n.text}\n`);
  for (const b of r.buildContexts)
    if (!existsSync(b.dir)) process.stderr.write(`${out}: services.${b.service}.build: ${b.dir} does not exist (yet)\n`);

  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, r.text);
  const links = r.links.length ? `, ${r.links.length} link(s) (${r.links.join(", ")})` : "";
  process.stdout.write(
    `wrote ${out}: ${r.services.length} service(s) (${r.services.join(", ")})${links}${r.target ? `, load on ${r.target}` : ""}\n`,
  );
  process.stdout.write(`fill in next:\n${r.next.map((n) => `  ${n}\n`).join("")}`);

  // The stubs are meant to validate as written; say at once when this one does not.
  try {
    parseScenario(r.text, out);
  } catch (e) {
    if (!(e instanceof ScenarioInvalid)) throw e;
    process.stderr.write(`${e.message}\n${out}: written, but ${e.issues.length} problem(s) to fix before it runs\n`);
    return EXIT.invalidScenario;
  }
  process.stdout.write(`then: cascade validate ${out} && cascade run ${out}\n`);
  return EXIT.ok;
}
