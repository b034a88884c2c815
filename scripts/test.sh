#!/usr/bin/env bash
# Installs the dependencies, runs the whole test suite (unit and end-to-end
# tests) under AddressSanitizer + UndefinedBehaviorSanitizer and checks that
# the benchmarks still build. With --full it also runs the suite under
# ThreadSanitizer and every libFuzzer target for a bounded time
# (scripts/fuzz.sh).
#
# Usage: scripts/test.sh [--full]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)
full=false
[ "${1:-}" = "--full" ] && full=true

run_suite() {  # build-dir sanitizers
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCOORDINATOR_SANITIZE="$2" -DCOORDINATOR_BUILD_BENCH=OFF > /dev/null
  cmake --build "$1" -j "$jobs"
  echo "== test suite under $2 =="
  ctest --test-dir "$1" --output-on-failure -j "$jobs" --timeout 300
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
run_suite build-asan address,undefined
if $full; then
  run_suite build-tsan thread
  ./scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi

# The benchmarks are run by hand (bench/README.md); here they must only build.
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOORDINATOR_BUILD_TESTS=OFF > /dev/null
cmake --build build-release -j "$jobs"
