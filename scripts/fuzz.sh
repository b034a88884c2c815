#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, ASan+UBSan) and runs each for a bounded time on a
# temporary copy of its seed corpus, so the repository stays clean.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=30]
#
# Exits non-zero when a build fails or any target finds a crash, a leak, a timeout or a broken
# invariant; the reproducer is copied to build-fuzz/crashes/<target>/ and the command to replay
# it is printed. Environment: FUZZ_TARGETS (space-separated subset), FUZZ_JOBS (ninja -j, 2),
# FUZZ_PARALLEL (targets fuzzed at once, default one per core),
# FUZZ_GROW=1 (merge the inputs of this run that reach new coverage into fuzz/corpus/<target>/,
# minimised by libFuzzer's -merge=1; commit them, and every test run replays them).
#
# The build compiles every source file with clang's thread-safety analysis as errors
# (COORDINATOR_THREAD_SAFETY_ANALYSIS), so this script is also that check.
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET>=1]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
targets="${FUZZ_TARGETS:-fuzz_router fuzz_l2_events fuzz_blend fuzz_registration fuzz_cache_events fuzz_checkpoint_load fuzz_token_keys}"
jobs="${FUZZ_JOBS:-2}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v clang++-14 >/dev/null ||
  ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "== installing clang-14 and libclang-rt-14-dev"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y clang-14 libclang-rt-14-dev
fi
if ! command -v cmake >/dev/null || ! command -v ninja >/dev/null; then
  "$root/scripts/install-deps.sh"
fi

build_start=$SECONDS
echo "== configuring $build"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" -DCOORDINATOR_THREAD_SAFETY_ANALYSIS=ON \
  -DCOORDINATOR_BUILD_FUZZ=ON -DCOORDINATOR_BUILD_TESTS=OFF -DCOORDINATOR_BUILD_BENCH=OFF \
  -DCOORDINATOR_SANITIZE=address,undefined >/dev/null
echo "== building $targets"
# shellcheck disable=SC2086
ninja -C "$build" -j "$jobs" $targets
echo "== fuzz targets built in $((SECONDS - build_start)) s"
run_start=$SECONDS

work="$(mktemp -d "${TMPDIR:-/tmp}/coordinator-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Fuzzes one target into $work/<target>/ and leaves its exit status in $work/<target>/status.
fuzz_one() {  # target
  local target="$1" status=0
  local corpus="$work/$target/corpus" artifacts="$work/$target/artifacts"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "$root/fuzz/corpus/$target" ]; then cp -R "$root/fuzz/corpus/$target/." "$corpus/"; fi
  "$build/fuzz/$target" "$corpus" \
    -dict="$root/fuzz/coordinator.dict" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$work/$target/log" 2>&1 || status=$?
  echo "$status" >"$work/$target/status"
}

# FUZZ_PARALLEL targets at a time (default: one per core); each fuzzer is single-threaded.
parallel="${FUZZ_PARALLEL:-$(nproc)}"
running=0
for target in $targets; do
  echo "== $target: ${seconds}s"
  fuzz_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=()
for target in $targets; do
  artifacts="$work/$target/artifacts"
  corpus="$work/$target/corpus"
  status="$(cat "$work/$target/status" 2>/dev/null || echo 1)"
  echo "== $target"
  grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/$target/log" || true
  if [ "$status" -ne 0 ] || [ -n "$(ls -A "$artifacts")" ]; then
    echo "!! $target failed (exit $status)" >&2
    tail -n 60 "$work/$target/log" >&2
    mkdir -p "$build/crashes/$target"
    cp -R "$artifacts/." "$build/crashes/$target/"
    for artifact in "$build/crashes/$target"/*; do
      [ -e "$artifact" ] && echo "   replay: $build/fuzz/$target $artifact" >&2
    done
    failed+=("$target")
  elif [ "${FUZZ_GROW:-0}" = 1 ]; then
    mkdir -p "$root/fuzz/corpus/$target"
    before=$(ls "$root/fuzz/corpus/$target" | wc -l)
    "$build/fuzz/$target" -merge=1 "$root/fuzz/corpus/$target" "$corpus" \
      -dict="$root/fuzz/coordinator.dict" -max_len=8192 -rss_limit_mb=2048 >"$work/$target/merge.log" 2>&1
    echo "   corpus fuzz/corpus/$target: $before -> $(ls "$root/fuzz/corpus/$target" | wc -l) inputs"
  fi
done

echo "== fuzz targets run in $((SECONDS - run_start)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing: no crashes in $targets (${seconds}s each)"
