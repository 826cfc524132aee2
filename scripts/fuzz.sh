#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + ASan + UBSan) into build-fuzz/ and runs
# each of them for a chosen time.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#        scripts/fuzz.sh --list
# Env:   PARALLEL=N   targets run at the same time (default 1; each uses one core)
#        JOBS=N       build parallelism (default 2)
#        FUZZ_DIR     build folder (default build-fuzz)
#        NICE         nice level of the build and the runs (default 19)
#
# Inputs: the committed seeds tests/fuzz/<target>/corpus/ and regressions/ (read only).
# New coverage-increasing inputs go to $FUZZ_DIR/corpus/<target>/ (not committed; it is
# reused by the next run). A crash, leak, timeout or out-of-memory input is written to
# tests/fuzz/<target>/crashes/ (git-ignored); after fixing the bug, move it to
# tests/fuzz/<target>/regressions/ and commit it: the normal test suite (test_fuzz,
# FuzzReplay.*) replays every corpus and regression file.
# Logs: $FUZZ_DIR/logs/<target>.log. Prints one summary line per target; exits 1 if any
# target found something.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
all_targets=(audio_bytes audio_file protocol_message connection http_request config_yaml am_mvn tokens_json onnx_contract)
if [[ "${1:-}" == "--list" ]]; then printf '%s\n' "${all_targets[@]}"; exit 0; fi
secs="${1:-60}"
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
dir="${FUZZ_DIR:-$root/build-fuzz}"
jobs="${JOBS:-2}"
parallel="${PARALLEL:-1}"
nice_level="${NICE:-19}"
command -v clang++ >/dev/null || { echo "clang++ not found (Debian: apt-get install clang libclang-rt-dev)"; exit 2; }

# Largest input per target (bytes): big enough for every seed and for the formats' headers.
declare -A max_len=([audio_bytes]=32768 [audio_file]=32768 [protocol_message]=4096 [connection]=16384
                    [http_request]=8192 [config_yaml]=4096 [am_mvn]=8192 [tokens_json]=4096 [onnx_contract]=4096)

echo "== configure + build $dir (clang, libFuzzer, ASan+UBSan)"
compilers=()  # only on the first configure: naming them again would make CMake drop its cache
[[ -f "$dir/CMakeCache.txt" ]] || compilers=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang)
cmake -S "$root" -B "$dir" "${compilers[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPARASERVE_FUZZ=ON -DPARASERVE_BUILD_TESTS=OFF -DPARASERVE_BUILD_BENCH=OFF >/dev/null
nice -n "$nice_level" cmake --build "$dir" -j"$jobs" --target fuzzers

mkdir -p "$dir/logs"
# ONNX Runtime's one-time allocations are not ours (scripts/lsan.supp). Stop at the first
# error so the crash input is the one written out.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:symbolize=1:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"

run_one() {
  local t="$1" bin="$dir/fuzz_$1" work="$dir/corpus/$1" crashes="$root/tests/fuzz/$1/crashes"
  [[ -x "$bin" ]] || { echo "$t: no such fuzz target"; return 2; }
  mkdir -p "$work" "$crashes"
  local seeds=("$root/tests/fuzz/$t/corpus")
  [[ -d "$root/tests/fuzz/$t/regressions" ]] && seeds+=("$root/tests/fuzz/$t/regressions")
  local rc=0 t0=$SECONDS
  nice -n "$nice_level" "$bin" "$work" "${seeds[@]}" -max_total_time="$secs" -max_len="${max_len[$t]:-4096}" \
    -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$crashes/" -print_final_stats=1 \
    >"$dir/logs/$t.log" 2>&1 || rc=$?
  local execs corpus
  execs="$(grep -E '^stat::number_of_executed_units' "$dir/logs/$t.log" | awk '{print $2}' | tail -1)"
  corpus="$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$dir/logs/$t.log" | tail -1 | sed 's/corp: //')"
  local found
  found="$(find "$crashes" -type f -newer "$dir/logs/$t.log.start" 2>/dev/null | wc -l)"
  printf '%-17s %5ss  execs %-10s corpus %-12s findings %s%s\n' "$t" "$((SECONDS - t0))" "${execs:-?}" "${corpus:-?}" "$found" \
    "$([[ $rc != 0 ]] && echo "  (exit $rc, see $dir/logs/$t.log)")"
  [[ $rc == 0 && $found == 0 ]]
}

echo "== fuzzing ${#targets[@]} target(s), ${secs} s each, $parallel at a time"
status=0
pids=()
names=()
for t in "${targets[@]}"; do
  touch "$dir/logs/$t.log.start"
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if [[ ${#pids[@]} -ge $parallel ]]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
[[ $status == 0 ]] && echo "fuzz: no findings" || echo "fuzz: FINDINGS (inputs under tests/fuzz/*/crashes/)"
exit $status
