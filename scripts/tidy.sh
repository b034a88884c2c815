#!/usr/bin/env bash
# Runs clang-tidy 14 with the repository's .clang-tidy over every project translation unit
# (src/, tests/, bench/ and fuzz/) and exits non-zero on any finding or on a file it cannot parse.
#
#   scripts/tidy.sh [PATH_REGEX]     e.g. scripts/tidy.sh 'src/http/|tests/unit/'
#
# A full run takes several minutes on two cores; on a shared machine run it under nice -n 19.
#
# src/, tests/ and bench/ are checked with the compile database of the g++ build in build-tidy/;
# the libFuzzer targets only configure under clang, so fuzz/ uses a clang-14 configured database
# in build-tidy-fuzz/. Both are (re)configured here, which keeps them in step with new files;
# nothing is built. Environment: TIDY_JOBS (parallel clang-tidy processes, default 2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
filter="${1:-}"
jobs="${TIDY_JOBS:-2}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v clang-tidy-14 >/dev/null || ! command -v clang++-14 >/dev/null; then
  echo "== installing clang-tidy-14 and clang-14"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y clang-tidy-14 clang-14
fi
if ! command -v cmake >/dev/null || ! command -v ninja >/dev/null; then
  "$root/scripts/install-deps.sh"
fi

configure() {  # build-dir [cmake options...]
  local build="$1"
  shift
  if [ -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" >/dev/null
  else
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug "$@" >/dev/null
  fi
}

echo "== configuring build-tidy and build-tidy-fuzz"
configure "$root/build-tidy"
CC=clang-14 CXX=clang++-14 configure "$root/build-tidy-fuzz" -DCOORDINATOR_BUILD_FUZZ=ON \
  -DCOORDINATOR_BUILD_TESTS=OFF -DCOORDINATOR_BUILD_BENCH=OFF

# "<database dir> <file>" for every project file of each database, fuzz/ from the clang one.
list_files() {  # build-dir path-regex
  python3 - "$1" "$root" "$2" "$filter" <<'EOF'
import json, re, sys
build, root, wanted, path_filter = sys.argv[1:]
for entry in json.load(open(build + "/compile_commands.json")):
    path = entry["file"]
    rel = path[len(root) + 1:] if path.startswith(root + "/") else ""
    if re.match(wanted, rel) and re.search(path_filter, rel):
        print(build, path)
EOF
}
work="$(mktemp -d "${TMPDIR:-/tmp}/coordinator-tidy.XXXXXX")"
trap 'rm -rf "$work"' EXIT
{
  list_files "$root/build-tidy" '(src|tests|bench)/'
  list_files "$root/build-tidy-fuzz" 'fuzz/'
} | sort -k2 >"$work/files"
count=$(wc -l <"$work/files")
if [ "$count" -eq 0 ]; then
  echo "no translation unit matches '$filter'" >&2
  exit 2
fi

tidy_one() {  # "<database dir> <file>"; writes the output and exit status under $work
  local db="${1%% *}" file="${1#* }" out status=0
  out="$work/$(echo "$file" | md5sum | cut -c1-16)"
  # The g++ database carries g++-only warning flags (-Wno-restrict) that clang does not know.
  clang-tidy-14 -p "$db" --quiet --extra-arg=-Wno-unknown-warning-option "$file" \
    >"$out.log" 2>&1 || status=$?
  echo "$status" >"$out.rc"
  echo "   $file"
}
export -f tidy_one
export work
echo "== clang-tidy over $count translation units ($jobs at a time)"
start=$(date +%s)
# shellcheck disable=SC2016  # $1 is expanded by the inner bash
xargs -d '\n' -P "$jobs" -n 1 bash -c 'tidy_one "$1"' _ <"$work/files"
elapsed=$(($(date +%s) - start))

failed=0
while read -r _ file; do
  out="$work/$(echo "$file" | md5sum | cut -c1-16)"
  if [ "$(cat "$out.rc")" -ne 0 ]; then
    failed=$((failed + 1))
    grep -Ev '^[0-9]+ (warning|error)s? (and [0-9]+ errors? )?generated\.$' "$out.log" >&2 || true
  fi
done <"$work/files"

if [ "$failed" -gt 0 ]; then
  echo "== distinct findings per check" >&2
  cat "$work"/*.log | grep -E '^/.*:[0-9]+:[0-9]+: (warning|error): .*\]$' | sort -u |
    sed -E 's/.*\[([^],]+)[^]]*\]$/\1/' | sort | uniq -c | sort -rn >&2 || true
  echo "clang-tidy: findings in $failed of $count translation units (${elapsed}s)" >&2
  exit 1
fi
echo "clang-tidy: $count translation units clean (${elapsed}s)"
