#!/usr/bin/env bash
# Installs the dependencies, builds everything under AddressSanitizer and
# UndefinedBehaviorSanitizer, runs the whole test suite (unit and end-to-end)
# and checks that the benchmarks still build.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=$(nproc)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCOORDINATOR_SANITIZE=address,undefined -DCOORDINATOR_BUILD_BENCH=OFF > /dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 300

# The benchmarks are run by hand (bench/README.md); here they must only build.
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOORDINATOR_BUILD_TESTS=OFF > /dev/null
cmake --build build-release -j "$jobs"
