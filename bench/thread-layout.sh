#!/usr/bin/env bash
# Thread layout and ONNX Runtime threading on this machine (issue 11 item 3; docs/performance.md).
# Runs `paraserve bench stream` (network-free 2pass sessions) for each layout, ROUNDS times,
# alternating the layouts within a round so slow drifts of a shared machine's load hit them
# alike, and prints per layout the median of: audio seconds decoded per process CPU second
# (the figure other processes disturb least), max RTF (wall), partial p95 (ms).
#
#   bench/thread-layout.sh [MODELS_DIR] [ROUNDS]        (default models/full, 3)
# Environment: QUANTIZE=true|false [true]  STREAMS [2]  SECONDS_AUDIO [10]  PARASERVE_BIN [build/paraserve]
#   LAYOUTS  space-separated "workers:intra:spin" triples
#            [2:1:false 1:1:false 1:2:false 1:2:true 2:2:false 2:2:true]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${1:-$root/models/full}" rounds="${2:-3}"
bin="${PARASERVE_BIN:-$root/build/paraserve}"
quantize="${QUANTIZE:-true}" streams="${STREAMS:-2}" seconds="${SECONDS_AUDIO:-10}"
layouts="${LAYOUTS:-2:1:false 1:1:false 1:2:false 1:2:true 2:2:false 2:2:true}"
out="$(mktemp -d /tmp/thread-layout.XXXXXX)"
echo "models $models quantize=$quantize, $streams streams x $seconds s, $rounds rounds; logs in $out"
for r in $(seq 1 "$rounds"); do
  for l in $layouts; do
    IFS=: read -r w t s <<<"$l"
    "$bin" bench stream --models "$models" --quantize "$quantize" --streams "$streams" --seconds "$seconds" \
      --workers "$w" --model-threads "$t" --ort-allow-spinning "$s" >"$out/$l.$r.log" 2>&1
    grep -h "cost:" "$out/$l.$r.log" | sed "s/^/  round $r $l /"
  done
done
printf '%-18s %14s %9s %14s\n' "workers:intra:spin" "audio s/CPU s" "max RTF" "partial p95 ms"
for l in $layouts; do
  cat "$out/$l".*.log | python3 -c '
import re, statistics, sys
t = sys.stdin.read()
cost = [float(x) for x in re.findall(r"cost: ([0-9.]+) audio s per CPU s", t)]
rtf = [float(x) for x in re.findall(r"max RTF ([0-9.]+)", t)]
p95 = [float(x) for x in re.findall(r"p95 ([0-9.]+) ms", t)]
m = lambda v: statistics.median(v) if v else float("nan")
print("%-18s %14.2f %9.3f %14.0f   (n=%d; CPU range %.2f-%.2f)" % (sys.argv[1], m(cost), m(rtf), m(p95), len(cost), min(cost), max(cost)))
' "$l"
done
