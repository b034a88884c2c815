#!/usr/bin/env bash
# Mixed load: heartbeats from 1,000 instances while POST /l2/events runs at a paced rate
# and an eviction sweep plans, every second, victims from KEYS preloaded keys. All of it is
# bench/tools/mixed_load.cpp (wrk can neither pace requests nor preload distinct keys); this
# script builds it, starts a Release coordinator on 127.0.0.1 that sweeps every second and
# evicts 1 % of an over-quota salt's keys per sweep, runs the tool and reports the
# coordinator's CPU time and memory. Startup resync is off: the tool's stand-in MP server
# holds no keys. The tool exits non-zero on any failed or non-2xx request.
#
# Usage: bench/mixed_load.sh [SECONDS=20] [KEYS=10000000] [EVENTS_PER_SEC=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/load_common.sh
duration=${1:-20}
keys=${2:-10000000}
events_per_sec=${3:-1000000}
build_release lmcache mixed_load

port=19320
coord_pid=
trap 'if [ -n "$coord_pid" ]; then kill $coord_pid 2>/dev/null || true; fi' EXIT
LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC=false start_coordinator $port \
  --eviction-check-interval 1 --eviction-ratio 0.01 --instance-timeout 3600

cpu_before=$(cpu_seconds "$coord_pid")
status=0
$build/bench/mixed_load $port "$duration" "$keys" "$events_per_sec" || status=$?
cpu=$(awk -v a="$cpu_before" -v b="$(cpu_seconds "$coord_pid")" 'BEGIN {printf "%.2f", b - a}')
rss=$(awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$coord_pid/status")
echo "coordinator: $cpu CPU seconds over the whole run (preload included), RSS $rss"
kill "$coord_pid"; wait "$coord_pid" 2>/dev/null || true; coord_pid=
exit $status
