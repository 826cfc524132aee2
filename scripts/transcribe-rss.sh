#!/usr/bin/env bash
# Peak RSS of `paraserve transcribe` for a short and a long file built by repeating the
# behavioural test audio (docs/transcribe.md, "Memory"). Needs sox and GNU time.
#   scripts/transcribe-rss.sh [MODELS_DIR] [SHORT_S] [LONG_S]     (defaults: models/tiny 120 7200)
set -euo pipefail
models=${1:-models/tiny}
short_s=${2:-120}
long_s=${3:-7200}
bin=${PARASERVE_BIN:-build/paraserve}
behav=${BEHAV_DIR:-models/behav}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sox "$behav"/audio/sample.wav "$behav"/audio/three_sentences.wav "$behav"/audio/one_sentence.wav \
    "$behav"/audio/silence.wav "$tmp/unit.wav"
unit=$(soxi -D "$tmp/unit.wav")
for s in "$short_s" "$long_s"; do
  n=$(python3 -c "import math; print(max(0, math.ceil($s / $unit) - 1))")
  sox "$tmp/unit.wav" "$tmp/in_$s.wav" repeat "$n"
  /usr/bin/time -f "%M %e" -o "$tmp/time_$s" "$bin" transcribe --vad-dir "$models/vad" \
      --model-dir "$models/offline-ts" --online-model-dir "$models/online" --punc-dir "$models/punc-offline" \
      "$tmp/in_$s.wav" > /dev/null
  read -r kib secs < "$tmp/time_$s"
  printf '%8.1f s of audio: peak RSS %7.1f MB, %6.1f s\n' "$(soxi -D "$tmp/in_$s.wav")" "$(echo "$kib/1024" | bc -l)" "$secs"
done
