#!/usr/bin/env bash
# Writes the test ITN model directory (zh_itn_tagger.fst, zh_itn_verbalizer.fst in FunASR's
# --itn-dir layout) into OUT_DIR, built from the grammar in grammar.py with OpenFst's tools
# (libfst-tools: fstcompile, fstrmepsilon, fstarcsort). Skips when OUT_DIR was made from the
# same grammar and options. Safe to run concurrently for the same OUT_DIR (built aside, then
# moved into place).
#   usage: make-itn.sh OUT_DIR [--whitelist TSV]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: make-itn.sh OUT_DIR [--whitelist TSV]}"
shift
for tool in fstcompile fstrmepsilon fstarcsort; do
  command -v "$tool" >/dev/null || { echo "make-itn.sh: $tool not found (install libfst-tools; scripts/setup.sh does)" >&2; exit 1; }
done
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
hash="$( { cat "$here/grammar.py" "$here/make-itn.sh"; echo "$*"; if [[ "${1:-}" == --whitelist ]]; then cat "$2"; fi; } | sha256sum | cut -d' ' -f1)"
if [[ -f "$out/.generator-hash" && "$(cat "$out/.generator-hash")" == "$hash" ]]; then
  exit 0
fi
mkdir -p "$(dirname "$out")"
tmp="$(mktemp -d "$out.tmp.XXXXXX")"
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT  # nothing left behind, whatever happens
"$py" "$here/grammar.py" --out "$tmp" "$@"
for part in tagger verbalizer; do
  fstcompile --arc_type=standard "$tmp/zh_itn_$part.txt" | fstrmepsilon | fstarcsort --sort_type=ilabel - "$tmp/zh_itn_$part.fst"
  rm "$tmp/zh_itn_$part.txt"
done
echo "$hash" > "$tmp/.generator-hash"
up_to_date() { [[ -f "$out/.generator-hash" && "$(cat "$out/.generator-hash")" == "$hash" ]]; }
# A concurrent run may have finished first: then its identical copy stays (readers may be using it).
up_to_date && exit 0
if [[ -e "$out" ]]; then  # an older version: replace it as a whole
  old="$(mktemp -d "$out.old.XXXXXX")"
  mv -T "$out" "$old/x" 2>/dev/null || true
  rm -rf "$old"
fi
mv -T "$tmp" "$out" 2>/dev/null || up_to_date
