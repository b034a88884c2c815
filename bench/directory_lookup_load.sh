#!/usr/bin/env bash
# v2 directory lookup over HTTP: wrk on 127.0.0.1 against POST /directory/lookup by token_ids,
# 32,768 tokens at world size 8 (bench/directory_lookup.lua), against an empty directory: every
# answer lists 1,024 keys without placements, after the same hashing, expansion and lookups.
# A 2-second pass first checks every answer (bench/directory_lookup_check.lua).
# Several rounds; reports requests/s, p50 and p99, and the coordinator's CPU per lookup.
#
# Usage: bench/directory_lookup_load.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=4]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/load_common.sh
rounds=${1:-3}
duration=${2:-10}
connections=${3:-4}
build_release lmcache

port=19312
coord_pid=
trap 'if [ -n "$coord_pid" ]; then kill $coord_pid 2>/dev/null || true; fi' EXIT
wrk_out=$(mktemp)
start_coordinator $port --eviction-check-interval 0

# First a short pass that reads every answer (200, 128 chunks); the timed rounds leave answers
# unread by Lua (bench/directory_lookup.lua says why).
wrk -t2 -c"$connections" -d2s -s bench/directory_lookup_check.lua "http://127.0.0.1:$port" \
  > "$wrk_out"
grep 'lookups checked' "$wrk_out"
if ! grep -q 'failed 0, without 128 chunks 0' "$wrk_out"; then
  echo "wrong answers: stopping" >&2
  exit 1
fi

rates=(); p50s=(); p99s=(); cpus=(); wrk_cpus=()
for round in $(seq 1 "$rounds"); do
  cpu_before=$(cpu_seconds "$coord_pid")
  # wrk's own CPU too: it shares the machine, and building and reading ~430 KB a lookup is not free.
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/directory_lookup.lua \
    "http://127.0.0.1:$port" > "$wrk_out" &
  wrk_pid=$!
  wrk_cpu=0
  while kill -0 "$wrk_pid" 2>/dev/null; do
    wrk_cpu=$(cpu_seconds "$wrk_pid" 2>/dev/null || echo "$wrk_cpu")
    sleep 0.2
  done
  wait "$wrk_pid"
  cpu=$(awk -v a="$cpu_before" -v b="$(cpu_seconds "$coord_pid")" 'BEGIN {printf "%.2f", b - a}')
  read -r rps p50 p99 requests < <(wrk_summary < "$wrk_out")
  grep -E 'Non-2xx|Socket errors' "$wrk_out" || true
  us=$(awk -v c="$cpu" -v n="$requests" 'BEGIN {printf "%.0f", c * 1e6 / n}')
  wrk_us=$(awk -v c="$wrk_cpu" -v n="$requests" 'BEGIN {printf "%.0f", c * 1e6 / n}')
  rates+=("$rps"); p50s+=("$p50"); p99s+=("$p99"); cpus+=("$us"); wrk_cpus+=("$wrk_us")
  echo "round $round: $rps lookups/s, p50 $p50 ms, p99 $p99 ms, coordinator CPU $us us/lookup," \
    "wrk CPU at least $wrk_us us/lookup"
done
rm -f "$wrk_out"
echo "median: $(median "${rates[@]}") lookups/s, p50 $(median "${p50s[@]}") ms," \
  "p99 $(median "${p99s[@]}") ms, coordinator CPU $(median "${cpus[@]}") us/lookup," \
  "wrk CPU at least $(median "${wrk_cpus[@]}") us/lookup" \
  "(32,768 tokens, world size 8, wrk -t2 -c$connections -d${duration}s)"
