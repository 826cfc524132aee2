#!/usr/bin/env bash
# Generates one set of FunASR-layout test models into models/<set>/ (tiny | behav | full | itn).
# Skips a set whose generator inputs have not changed since it was made.
#   itn: the test ITN directory (zh_itn_tagger.fst, zh_itn_verbalizer.fst; docs/itn.md), built
#        with OpenFst's tools from tools/modelgen/itn/grammar.py.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
set_name="${1:?usage: make-models.sh tiny|behav|full|itn}"
out="$root/models/$set_name"
if [[ "$set_name" == itn ]]; then
  "$root/tools/modelgen/itn/make-itn.sh" "$out"
  echo "models: itn ready in $out"
  exit 0
fi
stamp="$out/.generator-hash"
hash="$(cat "$root"/tools/modelgen/*.py | sha256sum | cut -d' ' -f1)"
# behav only: the test n-gram LM directory (FunASR --lm-dir layout) over its vocabulary,
# built by tools/modelgen/lm/make_lm.py with OpenFst's tools (libfst-tools) into behav/lm.
make_lm() {
  [[ "$set_name" == behav ]] || return 0
  local lm="$out/lm" lm_hash
  lm_hash="$(cat "$root"/tools/modelgen/lm/*.py "$out/online/tokens.json" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$lm/.generator-hash" && "$(cat "$lm/.generator-hash")" == "$lm_hash" ]]; then return 0; fi
  /usr/bin/python3 "$root/tools/modelgen/lm/make_lm.py" --tokens "$out/online/tokens.json" --out "$lm"
  echo "$lm_hash" > "$lm/.generator-hash"
}
if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
  echo "models: $set_name up to date in $out"
  make_lm
  exit 0
fi
start=$(date +%s)
# Debian's python3 (with python3-torch/python3-onnx), never a pyenv/venv interpreter.
/usr/bin/python3 "$root/tools/modelgen/generate.py" --set "$set_name" --out "$out"
echo "$hash" > "$stamp"
make_lm
echo "models: $set_name generated in $(( $(date +%s) - start )) s ($(du -sh "$out" | cut -f1))"
