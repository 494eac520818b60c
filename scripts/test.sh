#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test (unit + integration)
# with CTest. Integration tests start real coordinator/worker processes on 127.0.0.1 and read
# the real model and data from ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j"${TEST_JOBS:-2}" "$@"
