#!/usr/bin/env bash
# Heartbeat load: wrk on 127.0.0.1 against PUT /instances/{id}/heartbeat of the
# coordinator (1,000 registered instances, 64 connections), and in the same
# run against bench/tools/floor_server.cpp (a minimal Beast server answering a
# fixed 200), the floor of this stack on this machine. Several rounds,
# alternating, to report medians.
#
# Usage: bench/heartbeat_load.sh [ROUNDS=3] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/load_common.sh
rounds=${1:-3}
duration=${2:-10}
build_release lmcache floor_server

coord_port=19300
floor_port=19301
$build/bench/floor_server $floor_port &
floor_pid=$!
coord_pid=
trap 'kill $coord_pid $floor_pid 2>/dev/null || true' EXIT
start_coordinator $coord_port --instance-timeout 3600

for i in $(seq 0 999); do
  printf '{"instance_id":"bench-%d","ip":"127.0.0.1","http_port":%d}\n' "$i" $((20000 + i))
done | while read -r body; do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$coord_port/instances" \
    -H 'Content-Type: application/json' -d "$body"
done
registered=$(curl -s "http://127.0.0.1:$coord_port/instances" | grep -o '"instance_id"' | wc -l)
echo "registered instances: $registered"

run_wrk() {  # url -> "requests_per_second p99_ms"
  wrk -t2 -c64 -d"${duration}s" --latency -s bench/heartbeat.lua "$1" | wrk_summary |
    awk '{print $1, $3}'
}

coord_rps=(); coord_p99=(); floor_rps=(); floor_p99=()
for round in $(seq 1 "$rounds"); do
  read -r rps p99 < <(run_wrk "http://127.0.0.1:$floor_port")
  floor_rps+=("$rps"); floor_p99+=("$p99")
  echo "round $round floor:       $rps req/s, p99 $p99 ms"
  read -r rps p99 < <(run_wrk "http://127.0.0.1:$coord_port")
  coord_rps+=("$rps"); coord_p99+=("$p99")
  echo "round $round coordinator: $rps req/s, p99 $p99 ms"
done

c=$(median "${coord_rps[@]}"); f=$(median "${floor_rps[@]}")
echo "median coordinator: $c req/s, p99 $(median "${coord_p99[@]}") ms"
echo "median floor:       $f req/s, p99 $(median "${floor_p99[@]}") ms"
awk -v c="$c" -v f="$f" 'BEGIN {printf "coordinator / floor: %.1f%%\n", 100 * c / f}'
