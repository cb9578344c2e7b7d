#!/usr/bin/env bash
# Installs every system package infini needs (Debian 12), then configures and builds into build/.
# Idempotent: packages already present are skipped and the build is incremental (ccache helps
# across clean clones).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake g++ make pkg-config ccache
  libtorch-dev              # LibTorch 1.13 (CPU)
  libopenblas0-openmp       # without it LibTorch falls back to the ~3 GFLOP/s reference BLAS
  libsentencepiece-dev sentencepiece
  libcli11-dev libspdlog-dev libyaml-cpp-dev nlohmann-json3-dev
  libgtest-dev
  libgloo-dev
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
