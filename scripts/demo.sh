#!/usr/bin/env bash
# One command from a fresh machine to a finished run: engine, dependencies, images, the example
# scenario. The run's record (samples, events, result) lands in reports/cache-kill/<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/engine.sh
npm ci --no-audit --no-fund
node bin/cascade.js images build ${CASCADE_IMAGES:+--images "$CASCADE_IMAGES"}
node bin/cascade.js run scenarios/cache-kill.yaml
