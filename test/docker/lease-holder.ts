// A stand-in harness for test/docker/lease.test.ts, run as its own process (in its own PID
// namespace there): takes a run's lease as `cascade run` does, creates a labelled network, says
// "ready <run>" and waits to be killed. Its owner label is argv[3] when given (the test's "same
// hostname, a pid that is dead out there"), else host:pid as in its own namespace.
import { randomBytes } from "node:crypto";
import { docker } from "../../src/runtime/docker/client.js";
import { LABEL, ownerLabel } from "../../src/runtime/docker/labels.js";
import { Lease } from "../../src/runtime/docker/lease.js";

const image = process.argv[2];
if (!image) throw new Error("usage: lease-holder.ts <reaper image>");
const run = randomBytes(4).toString("hex");
const owner = process.argv[3] ?? ownerLabel();
const labels = { [LABEL.managed]: "1", [LABEL.run]: run, [LABEL.owner]: owner };
await Lease.take(run, image, labels, (why) => process.stderr.write(`${why}\n`));
await docker().createNetwork({ Name: `cascade-${run}`, Driver: "bridge", Labels: labels });
process.stdout.write(`ready ${run} owner ${owner}\n`);
setInterval(() => {}, 60_000);
