#!/usr/bin/env bash
# Installs the Debian 12 packages the coordinator needs to build, test and benchmark.
#   scripts/install-deps.sh [--build]
# --build: only what scripts/build-release.sh needs (the Dockerfile's build stage).
set -euo pipefail

build_packages=(
  g++ cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libcli11-dev libspdlog-dev libfmt-dev libsqlite3-dev
  prometheus-cpp-dev librust-blake3-dev libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev ccache
  dpkg-dev  # dpkg-shlibdeps, for scripts/build-deb.sh
)

packages=(
  g++ cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev  # Asio, Beast, Boost.JSON, unordered_flat_map
  libcli11-dev libspdlog-dev libfmt-dev libsqlite3-dev
  prometheus-cpp-dev  # GET /metrics
  libssl-dev  # OpenSSL 3: SHA-256 and constant-time compares of operator tokens
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus-cpp-dev  # metrics registry and text exposition
  librust-blake3-dev b3sum  # the BLAKE3 C sources (built by cmake/Blake3.cmake) and the reference CLI
  libxxhash-dev  # XXH3, header-only: picks the token-chain link cache's sets (core/chain_link_cache)
  libssl-dev openssl  # HTTPS (--tls-cert) and the test CA the TLS tests make
  wrk curl ccache
  etcd-server etcd-client  # HA mode: the e2e tests start a real etcd (tests/support/etcd_process)
  clang-format clang-tidy-14  # layout and lint checks in scripts/test.sh
  clang-14 libclang-rt-14-dev  # fuzzing and the thread-safety analysis (scripts/fuzz.sh)
  dpkg-dev systemd file man-db prometheus  # the .deb (dpkg-shlibdeps), its unit check, promtool
  chromium nodejs  # the fleet page's browser test (tests/browser/: puppeteer-core via npm ci)
)
# npm comes with some nodejs builds; Debian packages it apart.
command -v npm >/dev/null || packages+=(npm)

if [ "${1:-}" = --build ]; then packages=("${build_packages[@]}"); fi

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
