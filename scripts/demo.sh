#!/usr/bin/env bash
# One command from a fresh machine to a finished run: engine, dependencies, images, the example
# scenario. The run's record (samples, events, result) lands in reports/cache-kill/<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/engine.sh
# npm install, not npm ci: see .ci/run (this registry lacks other platforms' optional binaries).
npm install --no-audit --no-fund
node bin/cascade.js images build ${CASCADE_IMAGES:+--images "$CASCADE_IMAGES"}
code=0
node bin/cascade.js run scenarios/cache-kill.yaml || code=$?
# The example is meant to hurt: a failed SLO (4) is its result, not a failure of the demo.
case $code in
  0) echo "demo: done, every gate passed" ;;
  4) echo "demo: done — the run breached its SLO, as the verdict above explains" ;;
  6) echo "demo: setup did not hold — this machine could not put the database under the pressure the example needs (see the baseline line above)"; exit 6 ;;
  *) echo "demo: the run ended with exit code $code (see README, Commands)"; exit "$code" ;;
esac
