#!/usr/bin/env bash
# Sanitizer builds of the server, pipeline and end-to-end tests, one command each:
#   scripts/sanitize.sh asan    ASan + LSan + UBSan (build-asan/): memory errors, leaks, UB
#   scripts/sanitize.sh tsan    ThreadSanitizer     (build-tsan/): data races, lock misuse
# Builds the sanitized `paraserve` binary (the server and e2e tests run it as a child, so it
# is checked too) and the test programs, then runs them. Any sanitizer report from any
# process (written under <build>/sanitizer-logs/) or any failing test fails the run.
#
# Usage: scripts/sanitize.sh asan|tsan [--all] [-- GTEST_ARGS...]
#   default programs: test_server test_pipeline test_e2e (+ test_fuzz, the fuzz-input replay)
#   --all            the whole CTest suite instead (scripts/check-memory.sh asan uses this)
# Env:   JOBS (build parallelism, default 2), NICE (default 19), ASAN_DIR / TSAN_DIR,
#        CC / CXX (default gcc / g++; clang works too).
# Suppressions: scripts/lsan.supp (LeakSanitizer) and scripts/tsan.supp (ThreadSanitizer):
# ONNX Runtime internals only, each entry explained there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
kind="${1:-}"
shift || true
all=0
gtest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --all) all=1 ;;
    --) shift; gtest_args=("$@"); break ;;
    *) echo "unknown argument: $1"; exit 2 ;;
  esac
  shift
done
jobs="${JOBS:-2}"
nice_level="${NICE:-19}"
case "$kind" in
  asan) dir="${ASAN_DIR:-$root/build-asan}"; san="address,undefined" ;;
  tsan) dir="${TSAN_DIR:-$root/build-tsan}"; san="thread" ;;
  *) echo "usage: $0 asan|tsan [--all] [-- GTEST_ARGS...]"; exit 2 ;;
esac
programs=(test_server test_pipeline test_e2e)
[[ $kind == asan ]] && programs+=(test_fuzz)

echo "== $kind: configure + build $dir (PARASERVE_SANITIZE=$san)"
# No -Werror: with sanitizer instrumentation g++ 12 reports false -Warray-bounds /
# -Wstringop-overflow positives.
compilers=()  # only on the first configure: naming them again would make CMake drop its cache
[[ -f "$dir/CMakeCache.txt" ]] || compilers=(-DCMAKE_C_COMPILER="${CC:-gcc}" -DCMAKE_CXX_COMPILER="${CXX:-g++}")
cmake -S "$root" -B "$dir" "${compilers[@]}" -DPARASERVE_SANITIZE="$san" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPARASERVE_BUILD_BENCH=OFF -DPARASERVE_WERROR=OFF >/dev/null
if [[ $all == 1 ]]; then
  nice -n "$nice_level" cmake --build "$dir" -j"$jobs"
else
  nice -n "$nice_level" cmake --build "$dir" -j"$jobs" --target paraserve "${programs[@]}"
fi

logs="$dir/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
# Reports go to files (one per process, <name>.<pid>), so a report from a child `paraserve`
# process cannot get lost in a test's captured output.
export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$logs/ubsan:halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="log_path=$logs/tsan:suppressions=$root/scripts/tsan.supp:halt_on_error=0:second_deadlock_stack=1:history_size=4"
export PARASERVE_BIN="$dir/paraserve"

status=0
if [[ $all == 1 ]]; then
  echo "== $kind: ctest (whole suite)"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 1800 || status=1
else
  for p in "${programs[@]}"; do
    echo "== $kind: $p"
    nice -n "$nice_level" "$dir/$p" --gtest_brief=1 "${gtest_args[@]}" || { echo "FAILED: $p"; status=1; }
  done
fi

reports=$(find "$logs" -type f | wc -l)
if [[ $reports != 0 ]]; then
  echo "== $kind: $reports sanitizer report file(s):"
  for f in "$logs"/*; do echo "--- $f"; head -60 "$f"; done
  status=1
fi
[[ $status == 0 ]] && echo "sanitize $kind: OK (no sanitizer reports, all tests passed)" || echo "sanitize $kind: FAILED"
exit $status
