#!/usr/bin/env bash
# Fetch ONNX Runtime from the npm registry, verify it against the integrity hash in
# third_party/onnxruntime.lock, and unpack only the shared library and the C/C++ headers
# into .deps/onnxruntime-<ort_version>/ (git-ignored). A second run finds it there and does nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/third_party/onnxruntime.lock"
key() { sed -n "s/^$1=//p" "$lock"; }
package="$(key package)"; version="$(key version)"; ort_version="$(key ort_version)"
integrity="$(key integrity)"; library="$(key library)"; headers="$(key headers)"
dest="$root/.deps/onnxruntime-$ort_version"
stamp="$dest/.integrity"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$integrity" && -f "$dest/lib/libonnxruntime.so.1" ]]; then
  echo "onnxruntime $ort_version: already in $dest"
  exit 0
fi
command -v npm >/dev/null || { echo "error: npm is needed to fetch ONNX Runtime (scripts/setup.sh installs it)" >&2; exit 1; }

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
echo "onnxruntime $ort_version: fetching $package@$version with npm pack"
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
tarball="$(ls "$work"/*.tgz)"
algo="${integrity%%-*}"; expected="${integrity#*-}"
actual="$(openssl dgst -"$algo" -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$expected" ]]; then
  echo "error: integrity check failed for $package@$version" >&2
  echo "  expected $algo-$expected" >&2
  echo "  got      $algo-$actual" >&2
  echo "  The downloaded tarball is not the one recorded in third_party/onnxruntime.lock; refusing to use it." >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work" "$library" "$headers"
rm -rf "$dest.tmp"; mkdir -p "$dest.tmp/lib" "$dest.tmp/include"
cp "$work/$library" "$dest.tmp/lib/libonnxruntime.so.$ort_version"
ln -s "libonnxruntime.so.$ort_version" "$dest.tmp/lib/libonnxruntime.so.1"
ln -s "libonnxruntime.so.1" "$dest.tmp/lib/libonnxruntime.so"
cp "$work/$headers"/*.h "$dest.tmp/include/"
echo "$integrity" > "$dest.tmp/.integrity"
rm -rf "$dest"; mv "$dest.tmp" "$dest"
echo "onnxruntime $ort_version: verified ($algo) and unpacked to $dest"
