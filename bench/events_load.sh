#!/usr/bin/env bash
# L2 event ingestion: wrk on 127.0.0.1 against POST /l2/events of the coordinator, 256
# store/lookup events per batch (bench/events.lua), every batch a new seq of its instance.
# Several rounds to report medians; events/s = requests/s * 256. Also reports the
# coordinator's CPU time per event (user + system over the round).
#
# Usage: bench/events_load.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=16]
#
# bench/events_v2_load.sh runs the same loop against POST /events through these variables:
# EVENTS_SCRIPT (wrk script), EVENTS_PORT, EVENTS_STATUS (the route listing salts), EVENTS_UNIT, EVENTS_UNITS.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/load_common.sh
rounds=${1:-3}
duration=${2:-10}
connections=${3:-16}
batch=256
build_release lmcache

port=${EVENTS_PORT:-19310}
script=${EVENTS_SCRIPT:-bench/events.lua}
status=${EVENTS_STATUS:-/l2/status}
unit=${EVENTS_UNIT:-event}
units=${EVENTS_UNITS:-events}
coord_pid=
trap 'if [ -n "$coord_pid" ]; then kill $coord_pid 2>/dev/null || true; fi' EXIT
wrk_out=$(mktemp)

events=(); p99s=(); cpus=()
for round in $(seq 1 "$rounds"); do
  # A fresh coordinator per round, so every round starts from an empty ledger.
  start_coordinator $port --eviction-check-interval 0
  cpu_before=$(cpu_seconds "$coord_pid")
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$script" \
    "http://127.0.0.1:$port" > "$wrk_out"
  cpu=$(awk -v a="$cpu_before" -v b="$(cpu_seconds "$coord_pid")" 'BEGIN {printf "%.2f", b - a}')
  read -r rps _ p99 requests < <(wrk_summary < "$wrk_out")
  grep -E 'batches:|Non-2xx|Socket errors' "$wrk_out" || true
  salts=$(curl -s "http://127.0.0.1:$port$status" | grep -o '"cache_salt"' | wc -l)
  kill "$coord_pid"; wait "$coord_pid" 2>/dev/null || true; coord_pid=
  ev=$(awk -v r="$rps" -v b=$batch 'BEGIN {printf "%.0f", r * b}')
  us=$(awk -v c="$cpu" -v n="$requests" -v b=$batch 'BEGIN {printf "%.3f", c * 1e6 / (n * b)}')
  events+=("$ev"); p99s+=("$p99"); cpus+=("$us")
  echo "round $round: $rps req/s = $ev $units/s, p99 $p99 ms," \
    "coordinator CPU $cpu s = $us us/$unit ($salts salts tracked)"
done
rm -f "$wrk_out"

echo "median: $(median "${events[@]}") $units/s, p99 $(median "${p99s[@]}") ms," \
  "coordinator CPU $(median "${cpus[@]}") us/$unit" \
  "(batches of $batch $units, wrk -t2 -c$connections -d${duration}s)"
