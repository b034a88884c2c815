#!/usr/bin/env bash
# v2 event ingestion: wrk on 127.0.0.1 against POST /events of the coordinator, one batch of
# 256 store or access entries per request (bench/events_v2.lua), every batch the next seq of its
# instance. Several rounds to report medians; entries/s = requests/s * 256. Also reports the
# coordinator's CPU time per entry (user + system over the round).
#
# Usage: bench/events_v2_load.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=16]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/load_common.sh
rounds=${1:-3}
duration=${2:-10}
connections=${3:-16}
batch=256
build_release lmcache

port=19311
coord_pid=
trap 'if [ -n "$coord_pid" ]; then kill $coord_pid 2>/dev/null || true; fi' EXIT
wrk_out=$(mktemp)

events=(); p99s=(); cpus=()
for round in $(seq 1 "$rounds"); do
  # A fresh coordinator per round, so every round starts from an empty ledger.
  start_coordinator $port --eviction-check-interval 0
  cpu_before=$(cpu_seconds "$coord_pid")
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/events_v2.lua \
    "http://127.0.0.1:$port" > "$wrk_out"
  cpu=$(awk -v a="$cpu_before" -v b="$(cpu_seconds "$coord_pid")" 'BEGIN {printf "%.2f", b - a}')
  read -r rps _ p99 requests < <(wrk_summary < "$wrk_out")
  grep -E 'batches:|Non-2xx|Socket errors' "$wrk_out" || true
  salts=$(curl -s "http://127.0.0.1:$port/quota" | grep -o '"cache_salt"' | wc -l)
  kill "$coord_pid"; wait "$coord_pid" 2>/dev/null || true; coord_pid=
  ev=$(awk -v r="$rps" -v b=$batch 'BEGIN {printf "%.0f", r * b}')
  us=$(awk -v c="$cpu" -v n="$requests" -v b=$batch 'BEGIN {printf "%.3f", c * 1e6 / (n * b)}')
  events+=("$ev"); p99s+=("$p99"); cpus+=("$us")
  echo "round $round: $rps req/s = $ev entries/s, p99 $p99 ms," \
    "coordinator CPU $cpu s = $us us/entry ($salts salts tracked)"
done
rm -f "$wrk_out"

echo "median: $(median "${events[@]}") entries/s, p99 $(median "${p99s[@]}") ms," \
  "coordinator CPU $(median "${cpus[@]}") us/entry" \
  "(batches of $batch entries, wrk -t2 -c$connections -d${duration}s)"
