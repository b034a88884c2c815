#!/usr/bin/env bash
# Configures build-release/ (Release, tests and benchmarks included) and builds the targets
# named (all when none). Every script that uses build-release/ goes through here, so they can
# run in any order without one caching options another needs.
#
#   scripts/build-release.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DCOORDINATOR_BUILD_TESTS=ON -DCOORDINATOR_BUILD_BENCH=ON >/dev/null
if [ $# -eq 0 ]; then
  cmake --build build-release
else
  cmake --build build-release --target "$@"
fi
