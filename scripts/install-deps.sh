#!/usr/bin/env bash
# Installs the Debian 12 packages the coordinator needs to build, test and benchmark.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev  # Asio, Beast, Boost.JSON, unordered_flat_map
  libcli11-dev libspdlog-dev libfmt-dev libsqlite3-dev
  prometheus-cpp-dev  # GET /metrics
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus-cpp-dev  # metrics registry and text exposition
  librust-blake3-dev b3sum  # the BLAKE3 C sources (built by cmake/Blake3.cmake) and the reference CLI
  libssl-dev openssl  # HTTPS (--tls-cert) and the test CA the TLS tests make
  wrk curl ccache
  clang-format clang-tidy-14  # layout and lint checks in scripts/test.sh
  clang-14 libclang-rt-14-dev  # fuzzing and the thread-safety analysis (scripts/fuzz.sh)
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
