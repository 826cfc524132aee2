#!/usr/bin/env bash
# Runs the whole test suite (GoogleTest programs registered with CTest) on the build made
# by scripts/setup.sh, after bringing the build up to date. Exits non-zero if the build failed
# (the tests never run on stale binaries) or if any test failed.
#
#   PARASERVE_BUILD_DIR  build folder (default: build)
#   CI=true              tests that need the generated models fail instead of skipping
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${PARASERVE_BUILD_DIR:-build}"
scripts/build.sh "$build"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
