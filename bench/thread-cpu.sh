#!/usr/bin/env bash
# CPU time per server thread role under load (issue 11 item 3; docs/performance.md): starts
# `paraserve serve` with its default thread layout (or PARASERVE_SERVE_ARGS), streams
# `paraserve client --fast` 2pass sessions, and prints the CPU seconds of the I/O threads
# (ps-io-*), the decoder threads (ps-dec-*) and the rest (ORT pools, allocator, main), from
# /proc/PID/task/*/stat, with each role's share. Says whether the I/O threads need a CPU of
# their own in the budget.
#
#   bench/thread-cpu.sh MODEL_SET_DIR [CONNECTIONS] [WAV...]     (default 2 connections,
#                                                                 models/behav/audio/three_sentences.wav x4)
# Environment: QUANTIZE [true]  PORT [10397]  PARASERVE_BIN [build/paraserve]  PARASERVE_SERVE_ARGS
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${1:?MODEL_SET_DIR}" conns="${2:-2}"
shift $(( $# >= 2 ? 2 : $# ))
wavs=("$@")
if [[ ${#wavs[@]} == 0 ]]; then
  w="$root/models/behav/audio/three_sentences.wav"
  wavs=("$w" "$w" "$w" "$w")
fi
bin="${PARASERVE_BIN:-$root/build/paraserve}" port="${PORT:-10397}" q="${QUANTIZE:-true}"
log="$(mktemp /tmp/thread-cpu.XXXXXX.log)"
# shellcheck disable=SC2086
"$bin" serve --port "$port" --listen-ip 127.0.0.1 --vad-dir "$models/vad" --online-model-dir "$models/online" \
  --model-dir "$models/offline" --punc-dir "$models/punc" --quantize "$q" --vad-quant "$q" --punc-quant "$q" \
  ${PARASERVE_SERVE_ARGS:-} >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q "listening on" "$log" && break; sleep 0.2; done
grep -q "listening on" "$log" || { echo "server did not start:"; cat "$log"; exit 1; }
grep -h "threads:" "$log"
# Per role CPU ticks (utime + stime, fields 14+15 after the ')' of the comm field).
sample() {
  for t in /proc/$pid/task/*; do
    c=$(cat "$t/comm" 2>/dev/null) || continue
    s=$(sed 's/.*) //' "$t/stat" 2>/dev/null) || continue
    set -- $s
    echo "$c ${12} ${13}"
  done | awk '{r = $1 ~ /^ps-io/ ? "io" : ($1 ~ /^ps-dec/ ? "decoders" : "other"); t[r] += $2 + $3}
              END {printf "io %d decoders %d other %d\n", t["io"], t["decoders"], t["other"]}'
}
before=$(sample)
t0=$(date +%s.%N)
"$bin" client --fast --mode 2pass -c "$conns" --port "$port" "${wavs[@]}" >"$log.client" 2>&1
t1=$(date +%s.%N)
after=$(sample)
audio=$(python3 -c '
import sys, wave
print(sum(wave.open(f).getnframes() / wave.open(f).getframerate() for f in sys.argv[1:]))' "${wavs[@]}")
python3 - "$before" "$after" "$audio" "$t0" "$t1" "$(getconf CLK_TCK)" <<'PY'
import sys
b = dict(zip(sys.argv[1].split()[::2], map(int, sys.argv[1].split()[1::2])))
a = dict(zip(sys.argv[2].split()[::2], map(int, sys.argv[2].split()[1::2])))
audio, wall, hz = float(sys.argv[3]), float(sys.argv[5]) - float(sys.argv[4]), float(sys.argv[6])
d = {k: (a[k] - b[k]) / hz for k in a}
tot = sum(d.values()) or 1e-9
print(f"{audio:.1f} audio s in {wall:.1f} s wall; server CPU {tot:.2f} s = {audio / tot:.2f} audio s per CPU s")
for k in ("io", "decoders", "other"):
    print(f"  {k:9s} {d[k]:7.2f} CPU s  {100 * d[k] / tot:5.1f} %  {100 * d[k] / wall:5.1f} % of one core")
PY
