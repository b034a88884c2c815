#!/usr/bin/env bash
# Builds everything with clang 14 and -Wthread-safety (COORDINATOR_THREAD_SAFETY_ANALYSIS=ON), so
# a member marked GUARDED_BY touched without its lock, or a REQUIRES function called without it,
# fails the build. Installs clang-14 when it is missing.
#
#   scripts/thread-safety.sh [NINJA_TARGET...]      (default: every target but the benchmarks)
#
# Environment: TSA_JOBS (ninja -j, 2). The build directory is build-tsa/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-tsa"
jobs="${TSA_JOBS:-2}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v clang++-14 >/dev/null; then
  echo "== installing clang-14"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y clang-14
fi
if ! command -v cmake >/dev/null || ! command -v ninja >/dev/null; then
  "$root/scripts/install-deps.sh"
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

echo "== configuring $build"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  "${launcher[@]}" -DCOORDINATOR_BUILD_BENCH=OFF -DCOORDINATOR_THREAD_SAFETY_ANALYSIS=ON >/dev/null
echo "== building ${*:-all}"
ninja -C "$build" -j "$jobs" "$@"
echo "thread-safety analysis: clean"
