#!/usr/bin/env bash
# What CI runs (.ci/run). Installs the dependencies, then:
#   0. checks every C++ file with clang-format (layout) and clang-tidy (scripts/tidy.sh);
#   1. builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the whole suite in
#      build-asan: unit tests, end-to-end tests against that build of the binary, and a replay of
#      every committed fuzz corpus (fuzz/corpus/);
#   2. builds with ThreadSanitizer and runs the whole suite again in build-tsan: the end-to-end
#      tests start the TSan build of the binary, and unit tests drive the whole coordinator
#      in-process from several client threads at once;
#   3. builds the libFuzzer targets with clang 14 (ASan+UBSan), which also compiles every source
#      file under clang's thread-safety analysis with -Werror, and runs each target for a
#      bounded time (scripts/fuzz.sh);
#   4. builds what ships, the Release binary (and the benchmarks), and runs the end-to-end suite
#      against it and the check of its Debian package (tests/deploy/deb_package_test.sh).
# Each phase is timed and the times are printed at the end. ccache is used when present.
#
# Usage: scripts/test.sh [--full]
#   Fuzzes each target for 60 s, or 900 s with --full (which also grows the corpora);
#   FUZZ_SECONDS=N overrides both.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") fuzz_seconds="${FUZZ_SECONDS:-60}" ;;
  --full) fuzz_seconds="${FUZZ_SECONDS:-900}" ;;
  *)
    echo "usage: $0 [--full]" >&2
    exit 2
    ;;
esac
./scripts/install-deps.sh
jobs=$(nproc)
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# Paths under the checkout count relative to it, so a clone in another folder reuses the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

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
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
    -DCOORDINATOR_SANITIZE="$2" -DCOORDINATOR_BUILD_BENCH=OFF > /dev/null
  cmake --build "$1" -j "$jobs"
}
run_suite() {  # build-dir label... (no label: every test)
  local build="$1"
  shift
  echo "== test suite in $build ${*:-}"
  local labels=()
  if [ $# -gt 0 ]; then labels=(-L "$(IFS='|'; echo "$*")"); fi
  ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 300 "${labels[@]}"
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
phase "asan+ubsan tests" run_suite build-asan
phase "tsan build" build_suite build-tsan thread
phase "tsan tests" run_suite build-tsan
if [ "${1:-}" = --full ]; then export FUZZ_GROW=1; fi
phase "clang build and fuzz" ./scripts/fuzz.sh "$fuzz_seconds"
phase "release build" ./scripts/build-release.sh
phase "release e2e tests" run_suite build-release e2e package
