#!/usr/bin/env bash
# What CI runs (.ci/run). Installs the dependencies, then:
#   0. checks every C++ file with clang-format (layout) and clang-tidy (scripts/tidy.sh);
#   1. builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the whole test suite
#      (unit and end-to-end tests) in build-asan;
#   2. builds with ThreadSanitizer and runs the whole suite again in build-tsan: the end-to-end
#      tests start the TSan build of the binary, and unit tests drive the whole coordinator
#      in-process from several client threads at once;
#   3. builds every libFuzzer target (clang 14, ASan+UBSan) and runs each for a bounded time on
#      its seed corpus (scripts/fuzz.sh);
#   4. checks that the release build, benchmarks included, still builds (they are run by hand,
#      bench/README.md).
# Each phase is timed and the times are printed at the end: about 35 minutes on 2 cores.
#
# Usage: scripts/test.sh [--full]
#   Fuzzes each target for 120 s, or 900 s with --full; FUZZ_SECONDS=N overrides both.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") fuzz_seconds="${FUZZ_SECONDS:-120}" ;;
  --full) fuzz_seconds="${FUZZ_SECONDS:-900}" ;;
  *)
    echo "usage: $0 [--full]" >&2
    exit 2
    ;;
esac
./scripts/install-deps.sh
jobs=$(nproc)

# Wall time of every phase run so far, printed on exit (also when a phase fails).
phase_times=()
print_phase_times() {
  [ "${#phase_times[@]}" -gt 0 ] || return 0
  echo "== wall time by phase"
  printf '   %s\n' "${phase_times[@]}"
}
trap print_phase_times EXIT
phase() {  # name command...
  local name="$1" start=$SECONDS
  shift
  "$@"
  phase_times+=("$(printf '%-22s %5d s' "$name" $((SECONDS - start)))")
}

build_suite() {  # build-dir sanitizers
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCOORDINATOR_SANITIZE="$2" -DCOORDINATOR_BUILD_BENCH=OFF > /dev/null
  cmake --build "$1" -j "$jobs"
}
run_suite() {  # build-dir sanitizers
  echo "== test suite under $2 =="
  ctest --test-dir "$1" --output-on-failure -j "$jobs" --timeout 300
}

# Every tracked C++ file is laid out as .clang-format says.
format_check() {
  git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run -Werror
  echo "clang-format: clean"
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
phase "clang-format" format_check
phase "clang-tidy" ./scripts/tidy.sh
phase "asan+ubsan build" build_suite build-asan address,undefined
phase "asan+ubsan tests" run_suite build-asan address,undefined
phase "tsan build" build_suite build-tsan thread
phase "tsan tests" run_suite build-tsan thread
phase "fuzz build and run" ./scripts/fuzz.sh "$fuzz_seconds"

build_release() {
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOORDINATOR_BUILD_TESTS=OFF > /dev/null
  cmake --build build-release -j "$jobs"
}
phase "release build" build_release
