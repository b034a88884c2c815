#!/usr/bin/env bash
# L2 event ingestion: wrk on 127.0.0.1 against POST /l2/events of the coordinator, 256
# store/lookup events per batch (bench/events.lua), every batch a new seq of its instance.
# Several rounds to report medians; events/s = requests/s * 256.
#
# Usage: bench/events_load.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=16]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-10}
connections=${3:-16}
batch=256
build=build-release
cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOORDINATOR_BUILD_TESTS=OFF > /dev/null
cmake --build $build --target lmcache > /dev/null

port=19310
# A fresh coordinator per round, so every round starts from an empty ledger.
start_coordinator() {
  $build/lmcache coordinator --host 127.0.0.1 --port $port --state-path :memory: \
    --log-level warning --eviction-check-interval 0 &
  coord_pid=$!
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return
    sleep 0.1
  done
  echo "coordinator did not start" >&2
  exit 1
}
coord_pid=
trap 'if [ -n "$coord_pid" ]; then kill $coord_pid 2>/dev/null || true; fi' EXIT

run_wrk() {  # -> "requests_per_second p99_ms requests"
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/events.lua \
    "http://127.0.0.1:$port" |
    tee /dev/stderr |
    awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p=$2} / requests in / {n=$1}
         END {
           if (p ~ /us$/) { sub(/us$/, "", p); p = p / 1000 }
           else if (p ~ /ms$/) { sub(/ms$/, "", p) }
           else if (p ~ /s$/) { sub(/s$/, "", p); p = p * 1000 }
           printf "%s %.3f %s\n", rps, p, n }'
}

# CPU seconds (user + system) the coordinator has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$coord_pid/stat"
}

events=(); p99s=(); cpus=()
for round in $(seq 1 "$rounds"); do
  start_coordinator
  cpu_before=$(cpu_seconds)
  read -r rps p99 requests < <(run_wrk 2> /tmp/events_load_wrk.$$)
  cpu=$(awk -v a="$cpu_before" -v b="$(cpu_seconds)" 'BEGIN {printf "%.2f", b - a}')
  grep -E 'batches:|Non-2xx|Socket errors' /tmp/events_load_wrk.$$ || true
  rm -f /tmp/events_load_wrk.$$
  keys=$(curl -s "http://127.0.0.1:$port/l2/status" | grep -o '"cache_salt"' | wc -l)
  kill "$coord_pid"; wait "$coord_pid" 2>/dev/null || true; coord_pid=
  ev=$(awk -v r="$rps" -v b=$batch 'BEGIN {printf "%.0f", r * b}')
  us_per_event=$(awk -v c="$cpu" -v n="$requests" -v b=$batch 'BEGIN {printf "%.3f", c * 1e6 / (n * b)}')
  events+=("$ev"); p99s+=("$p99"); cpus+=("$us_per_event")
  echo "round $round: $rps req/s = $ev events/s, p99 $p99 ms," \
    "coordinator CPU $cpu s = $us_per_event us/event ($keys salts tracked)"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median: $(median "${events[@]}") events/s, p99 $(median "${p99s[@]}") ms," \
  "coordinator CPU $(median "${cpus[@]}") us/event" \
  "(batches of $batch, wrk -t2 -c$connections -d${duration}s)"
