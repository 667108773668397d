// cascade down: remove what runs whose lease expired (or, with --all, any runs) left on the engine.
import { reap, removeByLabel, LABEL } from "../runtime/docker/labels.js";
import { EngineUnavailable, pingEngine } from "../runtime/docker/client.js";
import { EXIT } from "./exit.js";

export async function downCommand(o: { all?: boolean; run?: string }): Promise<number> {
  try {
    await pingEngine();
  } catch (e) {
    if (!(e instanceof EngineUnavailable)) throw e;
    process.stderr.write(`${e.message}\n`);
    return EXIT.infrastructure;
  }
  if (o.run) {
    const r = await removeByLabel(`${LABEL.run}=${o.run}`);
    process.stdout.write(`run ${o.run}: removed ${r.containers} containers, ${r.networks} networks in ${r.ms} ms\n`);
    return EXIT.ok;
  }
  const removed = await reap(Boolean(o.all));
  for (const r of removed)
    process.stdout.write(
      `run ${r.run} (owner ${r.owner}, lease ${r.lease === "held" ? "held: a live run, removed because of --all" : "expired"}): removed ${r.containers} containers, ${r.networks} networks\n`,
    );
  if (removed.length === 0) process.stdout.write("nothing to remove\n");
  return EXIT.ok;
}
