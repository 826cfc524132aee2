#!/usr/bin/env bash
# Regression test (issue 10 #4): a failed build must make scripts/test.sh (and the build step
# scripts/setup.sh shares with it, scripts/build.sh) exit non-zero instead of running the tests
# on stale binaries. Uses a two-file CMake project in a temporary folder, not the real tree:
#   1. it builds and its one test passes  -> test.sh exits 0 and runs CTest;
#   2. its source is broken, the old binary is still there -> test.sh exits non-zero, prints
#      the compiler error, and does not run CTest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/src"
cat >"$tmp/src/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(probe CXX)
add_executable(probe probe.cpp)
enable_testing()
add_test(NAME probe_runs COMMAND probe)
CMAKE
echo 'int main() { return 0; }' >"$tmp/src/probe.cpp"
cmake -S "$tmp/src" -B "$tmp/build" >/dev/null

# 1. A good build: exit 0, the test ran.
if ! PARASERVE_BUILD_DIR="$tmp/build" "$root/scripts/test.sh" >"$tmp/good.out" 2>&1; then
  cat "$tmp/good.out" >&2
  fail "scripts/test.sh failed on a project that builds"
fi
grep -q "100% tests passed" "$tmp/good.out" || { cat "$tmp/good.out" >&2; fail "CTest did not run after a good build"; }
test -x "$tmp/build/probe" || fail "no binary after a good build"

# 2. Break the source; the stale binary stays.
echo '#error deliberately broken by tests/scripts/broken_build_fails.sh' >"$tmp/src/probe.cpp"
status=0
PARASERVE_BUILD_DIR="$tmp/build" "$root/scripts/test.sh" >"$tmp/bad.out" 2>&1 || status=$?
cat "$tmp/bad.out"
((status != 0)) || fail "scripts/test.sh exited 0 although the build failed"
grep -q "deliberately broken" "$tmp/bad.out" || fail "the compiler error was not printed"
grep -q "build: FAILED" "$tmp/bad.out" || fail "no one-line build failure message"
! grep -q "tests passed" "$tmp/bad.out" || fail "CTest ran on the stale binary after a failed build"

# The set-up script builds through the same step (no grep || true pipeline in front of it).
grep -q '^scripts/build.sh "\$build"' "$root/scripts/setup.sh" || fail "scripts/setup.sh does not build with scripts/build.sh"
status=0
"$root/scripts/build.sh" "$tmp/build" >/dev/null 2>&1 || status=$?
((status != 0)) || fail "scripts/build.sh exited 0 although the build failed"
echo "PASS: a broken build fails scripts/test.sh (exit $status from scripts/build.sh)"
