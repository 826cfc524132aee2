#!/usr/bin/env bash
# One-time set-up on Debian 12 (run as root, or with sudo available): installs the Debian
# packages paraserve needs, fetches and verifies ONNX Runtime, configures and builds the
# Release tree in build/, and generates the test models in models/. Safe to re-run: each
# step checks what is already there and skips it.
#
#   PARASERVE_BUILD_DIR   build folder (default: build)
#   PARASERVE_CMAKE_ARGS  extra CMake arguments (e.g. -DPARASERVE_WERROR=ON)
#   PARASERVE_MODELS      which generated model sets to make (default: "tiny behav itn"; add "full")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${PARASERVE_BUILD_DIR:-build}"
start=$(date +%s)

packages=(
  # toolchain
  cmake g++ make pkg-config git ca-certificates
  # libraries (headers)
  libboost-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libcli11-dev
  libfftw3-dev libsoxr-dev libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
  libjemalloc-dev libmimalloc-dev
  # OpenFst: ITN FSTs and n-gram LM graphs (libfst-dev), fstcompile & co. for the test ITN grammar and LM (libfst-tools)
  libfst-dev libfst-tools
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # model generator and reference values (Debian's Python, not pip)
  python3 python3-torch python3-torchaudio python3-onnx python3-numpy python3-yaml python3-websockets
  # audio tools and plots
  sox ffmpeg gnuplot-nox
)
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ! command -v npm >/dev/null; then missing+=(npm); fi
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages already installed"
fi

scripts/fetch-onnxruntime.sh

echo "setup: configuring $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release ${PARASERVE_CMAKE_ARGS:-} >/dev/null
echo "setup: building (this takes a few minutes the first time)"
# A failed build stops here (scripts/build.sh exits non-zero; errors are printed from the log).
scripts/build.sh "$build"
test -x "$build/paraserve" || { echo "setup: build produced no $build/paraserve" >&2; exit 1; }

for set in ${PARASERVE_MODELS:-tiny behav itn}; do
  scripts/make-models.sh "$set"
done
echo "setup: done in $(( $(date +%s) - start )) s"
