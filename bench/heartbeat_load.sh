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

register_instances "http://127.0.0.1:$coord_port"
compare_heartbeats floor "http://127.0.0.1:$floor_port" coordinator "http://127.0.0.1:$coord_port"
