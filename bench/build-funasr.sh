#!/usr/bin/env bash
# Builds FunASR's C++ WebSocket servers (funasr-wss-server-2pass, funasr-wss-server) from a local
# FunASR source checkout, against paraserve's ONNX Runtime (.deps), C++17, without network access.
# Used as the baseline of bench/side-by-side.sh; steps and rationale in docs/baseline-funasr.md.
#
#   FUNASR_SRC=/path/to/FunASR bench/build-funasr.sh [BUILD_DIR]
#
# BUILD_DIR defaults to $FUNASR_BUILD, else /tmp/funasr-build; binaries land in BUILD_DIR/bin.
# Without FUNASR_SRC it prints "skipped" and exits 0.
# Needs (Debian): cmake g++ libssl-dev libwebsocketpp-dev libasio-dev nlohmann-json3-dev.
# FunASR's websocket CMakeLists would FetchContent websocketpp/asio/json from GitHub; it skips a
# download when the target folder already exists, so this script first points those folders
# (inside FUNASR_SRC/runtime/websocket/third_party, where FetchContent would have put them) at the
# Debian headers. FunASR's own files are not modified. Portaudio (only for the microphone client)
# is turned off; FFmpeg stays off (FunASR's default; only file decoding uses it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -z "${FUNASR_SRC:-}" ]]; then
  echo "build-funasr: skipped: FUNASR_SRC is not set (point it at a FunASR source checkout," \
       "e.g. git -C <mirror> archive HEAD runtime | tar -x -C /opt/funasr-src; FUNASR_SRC=/opt/funasr-src)"
  exit 0
fi
die() { echo "build-funasr: error: $*" >&2; exit 1; }

out="${1:-${FUNASR_BUILD:-/tmp/funasr-build}}"
ws="$FUNASR_SRC/runtime/websocket"
[[ -f "$ws/CMakeLists.txt" && -d "$FUNASR_SRC/runtime/onnxruntime/src" ]] ||
  die "FUNASR_SRC='$FUNASR_SRC' has no runtime/websocket/CMakeLists.txt or runtime/onnxruntime/src"
ort="$(readlink -f "${PARASERVE_ORT_DIR:-$root/.deps/onnxruntime-1.29.0}")"
[[ -f "$ort/lib/libonnxruntime.so" && -f "$ort/include/onnxruntime_cxx_api.h" ]] ||
  die "ONNX Runtime not found in '$ort' (set PARASERVE_ORT_DIR, or run scripts/fetch-onnxruntime.sh)"

# Debian headers in place of FetchContent downloads (only where the folder is not there yet).
for h in /usr/include/websocketpp/version.hpp /usr/include/asio.hpp /usr/include/nlohmann/json.hpp; do
  [[ -f "$h" ]] || die "missing $h: apt-get install libwebsocketpp-dev libasio-dev nlohmann-json3-dev"
done
tp="$ws/third_party"
link() {  # link TARGET LINKNAME: create LINKNAME unless it exists already
  [[ -e "$2" || -L "$2" ]] && return 0
  mkdir -p "$(dirname "$2")" && ln -s "$1" "$2"
}
link /usr/include/websocketpp "$tp/websocket/websocketpp"        # CMake tests third_party/websocket/websocketpp
link /usr/include/asio "$tp/asio/asio/include/asio"              # CMake tests third_party/asio/asio
link /usr/include/asio.hpp "$tp/asio/asio/include/asio.hpp"
link /usr/include/nlohmann "$tp/json/include/nlohmann"
[[ -e "$tp/json/ChangeLog.md" ]] || : > "$tp/json/ChangeLog.md"  # CMake tests third_party/json/ChangeLog.md

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
start=$(date +%s)
mkdir -p "$out"
log="$out/build-funasr.log"
echo "build-funasr: FunASR $FUNASR_SRC -> $out (ONNX Runtime $ort); log $log"
# CMAKE_CXX_STANDARD: FunASR sets 14 as a cache default; ONNX Runtime 1.29's C++ headers need 17.
# FETCHCONTENT_FULLY_DISCONNECTED: never reach for the network (fail instead).
if ! cmake -S "$ws" -B "$out" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=17 \
       -DONNXRUNTIME_DIR="$ort" -DENABLE_PORTAUDIO=OFF -DFETCHCONTENT_FULLY_DISCONNECTED=ON \
       -Wno-dev "${launcher[@]}" >"$log" 2>&1; then
  tail -n 30 "$log" >&2; die "cmake configure failed (full log: $log)"
fi
if ! nice -n 10 make -C "$out" -j"${JOBS:-2}" funasr-wss-server-2pass funasr-wss-server >>"$log" 2>&1; then
  grep -n -m 20 -E 'error|Error' "$log" >&2 || true
  die "build failed (full log: $log)"
fi
for b in funasr-wss-server-2pass funasr-wss-server; do
  "$out/bin/$b" --help >/dev/null 2>&1 || die "$out/bin/$b --help failed"
done
echo "build-funasr: built $out/bin/funasr-wss-server-2pass and $out/bin/funasr-wss-server in $(( $(date +%s) - start )) s"
