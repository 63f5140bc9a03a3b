#!/usr/bin/env bash
# Sets up (idempotently) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
exec node --test --test-concurrency=2 --test-reporter=spec "dist/test/**/*.test.js"
