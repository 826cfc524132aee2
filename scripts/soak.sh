#!/usr/bin/env bash
# One memory soak (docs/memory.md): starts `paraserve serve` from the given build folder,
# waits until it is ready, runs `paraserve soak` against it, stops it.
# Usage: scripts/soak.sh BUILD_DIR MODELS_DIR OUT_PREFIX [soak flags...] [-- serve flags...]
#   e.g. scripts/soak.sh build-mem-jemalloc models/tiny /tmp/soak-jemalloc-tiny \
#          --sessions 5200 --warmup 200 --concurrency 16
# Writes OUT_PREFIX.csv, .png, .json (summary), .log (soak output), .server.log.
# Env: PORT (default 18600), QUANT (true/false, default false for tiny, true otherwise), WAV.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$1"; models="$2"; out="$3"; shift 3
soak_flags=(); serve_flags=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == "--" ]]; then shift; serve_flags=("$@"); break; fi
  soak_flags+=("$1"); shift
done
port="${PORT:-18600}"
quant="${QUANT:-$([[ "$models" == *tiny* ]] && echo false || echo true)}"
wav="${WAV:-$root/models/behav/audio/three_sentences.wav}"
bin="$build/paraserve"
"$bin" serve --listen-ip 127.0.0.1 --port "$port" --vad-dir "$models/vad" --online-model-dir "$models/online" \
  --model-dir "$models/offline" --punc-dir "$models/punc" --quantize "$quant" --vad-quant "$quant" \
  --punc-quant "$quant" --max-sessions 64 "${serve_flags[@]}" >"$out.server.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "server exited"; cat "$out.server.log"; exit 1; }
  sleep 0.5
done
alloc="$(grep -o 'allocator [a-z]*' "$out.server.log" | head -1 | cut -d' ' -f2)"
label="${alloc:-?}, $(basename "$models") models"
"$bin" soak --port "$port" --pid "$pid" --wav "$wav" --csv "$out.csv" --png "$out.png" \
  --summary-json "$out.json" --label "$label" "${soak_flags[@]}" | tee "$out.log"
