#!/usr/bin/env bash
# Installs the dependencies, builds the release binary and starts the
# coordinator in the foreground. Extra arguments go to `lmcache coordinator`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCOORDINATOR_BUILD_TESTS=OFF -DCOORDINATOR_BUILD_BENCH=OFF > /dev/null
cmake --build build-release --target lmcache
exec ./build-release/lmcache coordinator "$@"
