#!/usr/bin/env bash
# Runs the whole test suite (GoogleTest programs registered with CTest) on the build made
# by scripts/setup.sh. Prints CTest's summary line; exits non-zero if any test failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${PARASERVE_BUILD_DIR:-build}"
cmake --build "$build" -j"$(nproc)" 2>&1 | grep -E "error|warning" || true
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
