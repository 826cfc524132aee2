#!/usr/bin/env bash
# Leak checks (issue 6), one command:
#   1. builds an AddressSanitizer + LeakSanitizer + UBSan tree (build-asan, via
#      scripts/sanitize.sh asan --all) and runs the whole CTest suite in it (any ASan/UBSan
#      error or leak report fails);
#   2. builds a plain glibc-malloc binary with debug info (build-memcheck) and runs a short
#      `paraserve serve` session under valgrind memcheck: a few 2pass utterances with
#      `paraserve client` (one connection reused for two utterances, one fresh connection),
#      then SIGTERM. Fails if valgrind reports any byte "definitely lost" that is not
#      covered by scripts/valgrind.supp (ONNX Runtime / FFmpeg / glibc internals only).
# Usage: scripts/check-memory.sh [asan|valgrind|all]   (default all)
# Env:   JOBS (build parallelism, default nproc), MODELS (default models/tiny),
#        ASAN_DIR / MEMCHECK_DIR (build folders), PORT (default 18555), KEEP_LOGS=1,
#        MEMCHECK_BIN (an existing glibc-malloc paraserve binary: skips the memcheck build).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
what="${1:-all}"
jobs="${JOBS:-$(nproc)}"
asan_dir="${ASAN_DIR:-$root/build-asan}"
memcheck_dir="${MEMCHECK_DIR:-$root/build-memcheck}"
models="${MODELS:-$root/models/tiny}"
port="${PORT:-18555}"
wav="$root/models/behav/audio/three_sentences.wav"
status=0

run_asan() {
  # The ASan (+ LSan + UBSan) tree and its suppressions live in scripts/sanitize.sh; this runs
  # the whole CTest suite in it (any ASan/UBSan error or leak report fails).
  JOBS="$jobs" ASAN_DIR="$asan_dir" "$root/scripts/sanitize.sh" asan --all || status=1
}

run_valgrind() {
  command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)"; exit 2; }
  local bin="${MEMCHECK_BIN:-}" log
  if [[ -z "$bin" ]]; then
    echo "== valgrind: configure + build $memcheck_dir (glibc malloc, RelWithDebInfo)"
    cmake -S "$root" -B "$memcheck_dir" -DPARASERVE_ALLOCATOR=glibc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPARASERVE_BUILD_TESTS=OFF -DPARASERVE_BUILD_BENCH=OFF -DPARASERVE_WERROR=ON >/dev/null
    cmake --build "$memcheck_dir" -j"$jobs" --target paraserve
    bin="$memcheck_dir/paraserve"
  fi
  log="$(mktemp /tmp/paraserve-valgrind.XXXXXX.log)"
  echo "== valgrind: serving $models on port $port (log $log)"
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --suppressions="$root/scripts/valgrind.supp" --num-callers=30 --log-file="$log" \
    "$bin" serve --port "$port" --listen-ip 127.0.0.1 --vad-dir "$models/vad" --online-model-dir "$models/online" \
    --model-dir "$models/offline" --punc-dir "$models/punc" --quantize false --vad-quant false --punc-quant false \
    --decoder-thread-num 2 --io-thread-num 1 --log-level warn &
  local pid=$!
  local up=0
  for _ in $(seq 1 600); do  # model loading under valgrind takes a while
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if [[ $up != 1 ]]; then
    echo "server did not become ready under valgrind"; kill "$pid" 2>/dev/null || true; cat "$log"; exit 1
  fi
  # Two utterances on one connection is what `client` does with two files; then one more connection.
  "$bin" client --port "$port" --mode 2pass --fast --timeout 300 "$wav" "$wav" || status=1
  "$bin" client --port "$port" --mode online --fast --timeout 300 "$wav" || status=1
  kill -TERM "$pid"
  wait "$pid" || true
  echo "== valgrind summary"
  sed -n '/LEAK SUMMARY/,/suppressed:/p' "$log"
  grep -E "ERROR SUMMARY" "$log" | tail -1
  local definite
  definite="$(grep -E "definitely lost: [0-9,]+ bytes" "$log" | tail -1 | sed -E 's/.*definitely lost: ([0-9,]+) bytes.*/\1/' | tr -d ,)"
  if [[ -z "$definite" ]]; then
    grep -q "All heap blocks were freed" "$log" && definite=0 || definite=unknown
  fi
  echo "definitely lost (after suppressions): $definite bytes"
  if [[ "$definite" != 0 ]]; then
    echo "FAIL: valgrind found definitely lost memory; details in $log"; grep -B2 -A30 "definitely lost in" "$log" | head -120
    status=1
  elif [[ -z "${KEEP_LOGS:-}" ]]; then
    rm -f "$log"
  fi
}

case "$what" in
  asan) run_asan ;;
  valgrind) run_valgrind ;;
  all) run_asan; run_valgrind ;;
  *) echo "usage: $0 [asan|valgrind|all]"; exit 2 ;;
esac
[[ $status == 0 ]] && echo "check-memory: OK" || echo "check-memory: FAILED"
exit $status
