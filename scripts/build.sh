#!/usr/bin/env bash
# Builds a configured CMake tree with all cores, keeping the terminal readable: the full compiler
# output goes to <build>/build.log and only its error and warning lines are printed. Exits with
# the build's own status, so a failed build fails the caller (setup.sh, test.sh) and CI.
#
#   scripts/build.sh [build-dir] [extra cmake --build arguments...]
set -euo pipefail
build="${1:-build}"
shift || true
mkdir -p "$build"
log="$build/build.log"
status=0
cmake --build "$build" -j"$(nproc)" "$@" >"$log" 2>&1 || status=$?
# Nothing to report on a clean build: grep's "no match" is not a failure.
grep -E "error|warning|Error" "$log" | head -n 200 || true
if ((status != 0)); then
  echo "build: FAILED (exit $status) in $build; full output in $log" >&2
  exit "$status"
fi
