#!/usr/bin/env bash
# v2 event ingestion: wrk on 127.0.0.1 against POST /events of the coordinator, one batch of
# 256 store or access entries per request (bench/events_v2.lua), every batch the next seq of its
# instance. Several rounds to report medians; entries/s = requests/s * 256. Also reports the
# coordinator's CPU time per entry (user + system over the round). The loop is
# bench/events_load.sh's.
#
# Usage: bench/events_v2_load.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=16]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS_SCRIPT=bench/events_v2.lua EVENTS_PORT=19311 EVENTS_STATUS=/quota EVENTS_UNIT=entry EVENTS_UNITS=entries \
  exec bench/events_load.sh "$@"
