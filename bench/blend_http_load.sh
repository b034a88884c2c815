#!/usr/bin/env bash
# CacheBlend over HTTP: publish CHUNKS chunks of 256 tokens through
# POST /blend/fingerprints in batches (curl), then wrk on POST /blend/match with
# one 32,768-token tokens_b64 request that contains 8 published chunks at
# unaligned offsets. Several rounds per connection count, reporting medians of
# requests/s, p50 and p99. Bodies come from bench/tools/blend_http_bodies.cpp.
#
# Usage: bench/blend_http_load.sh [ROUNDS=3] [SECONDS=10] [CHUNKS=100000]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/load_common.sh
rounds=${1:-3}
duration=${2:-10}
chunks=${3:-100000}
build_release lmcache blend_http_bodies

bodies=$(mktemp -d)
port=19310
coord_pid=
trap 'kill $coord_pid 2>/dev/null || true; rm -rf "$bodies"' EXIT
start_coordinator $port --blend-chunk-size 256

expected=$($build/bench/blend_http_bodies "$bodies" "$chunks" 256 1000 32768 8)

start=$(date +%s.%N)
inserted=0
for body in "$bodies"/publish-*.json; do
  n=$(curl -sf -X POST "http://127.0.0.1:$port/blend/fingerprints" \
    -H 'Content-Type: application/json' --data-binary @"$body" | grep -o '[0-9]\+')
  inserted=$((inserted + n))
done
end=$(date +%s.%N)
batches=$(ls "$bodies"/publish-*.json | wc -l)
awk -v n="$inserted" -v b="$batches" -v s="$start" -v e="$end" 'BEGIN {
  printf "published %d chunks in %d requests: %.2f s, %.0f chunks/s (curl, one request at a time)\n",
    n, b, e - s, n / (e - s) }'
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$coord_pid/status)
echo "coordinator RSS after publishing: $((rss_kb / 1024)) MiB"

found=$(curl -sf -X POST "http://127.0.0.1:$port/blend/match" -H 'Content-Type: application/json' \
  --data-binary @"$bodies/match.json" | grep -o '"object_key"' | wc -l)
echo "match request: $(stat -c %s "$bodies/match.json") bytes, $found matches (expected $expected)"
if [ "$found" != "$expected" ]; then echo "wrong match count" >&2; exit 1; fi

export BLEND_MATCH_BODY="$bodies/match.json"
run_wrk() {  # connections -> "requests_per_second p50_ms p99_ms server_cpu_us_per_request"
  local before after
  before=$(cpu_seconds "$coord_pid")
  wrk -t"$(( $1 < 2 ? 1 : 2 ))" -c"$1" -d"${duration}s" --latency -s bench/blend_match.lua \
    "http://127.0.0.1:$port" > "$bodies/wrk.txt"
  after=$(cpu_seconds "$coord_pid")
  wrk_summary < "$bodies/wrk.txt" |
    awk -v cpu="$(awk -v a="$before" -v b="$after" 'BEGIN {print b - a}')" \
      '{printf "%s %s %s %.0f\n", $1, $2, $3, 1e6 * cpu / $4}'
}

for connections in 1 8; do
  rps_all=(); p50_all=(); p99_all=(); cpu_all=()
  for round in $(seq 1 "$rounds"); do
    read -r rps p50 p99 cpu < <(run_wrk "$connections")
    rps_all+=("$rps"); p50_all+=("$p50"); p99_all+=("$p99"); cpu_all+=("$cpu")
    echo "round $round, $connections connection(s): $rps req/s, p50 $p50 ms, p99 $p99 ms," \
      "server CPU $cpu us/request"
  done
  echo "median, $connections connection(s): $(median "${rps_all[@]}") req/s," \
    "p50 $(median "${p50_all[@]}") ms, p99 $(median "${p99_all[@]}") ms," \
    "server CPU $(median "${cpu_all[@]}") us/request"
done
