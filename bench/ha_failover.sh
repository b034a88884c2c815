#!/usr/bin/env bash
# HA failover: one etcd and three Release coordinators in HA mode on 127.0.0.1, the leader
# killed with SIGKILL under steady load (heartbeats from 1,000 instances, seed-era and v2 event
# batches, blend publishes, quota writes), and the request-path cost of followers. All of it is
# bench/tools/ha_failover.cpp, which starts and stops every process itself; this script builds
# it, runs it in a process group of its own and kills that group on the way out, whatever
# happens. One "RESULT PASS|FAIL target: figure (goal)" line per target of spec/ha.md; the exit
# status says whether the run was carried out, not whether the targets were met. About a minute.
#
# Usage: bench/ha_failover.sh [LEASE_S=2] [BEFORE_S=10] [AFTER_S=6] [WINDOW_S=2] [kill|stop]
# (stop: the leader is paused with SIGSTOP instead, and resumed after the takeover)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/load_common.sh
if [ ! -x /usr/bin/etcd ]; then
  echo "/usr/bin/etcd is missing (Debian package etcd-server)" >&2
  exit 1
fi
build_release lmcache ha_failover

set -m  # the driver gets a process group of its own: etcd and the coordinators join it
driver_pid=
stop_driver() {  # TERM to the whole group; CONT so that a paused coordinator gets it too
  if [ -n "$driver_pid" ]; then
    kill -TERM -- "-$driver_pid" 2>/dev/null || true
    kill -CONT -- "-$driver_pid" 2>/dev/null || true
  fi
}
trap stop_driver EXIT
$build/bench/ha_failover "$@" &
driver_pid=$!
status=0
wait "$driver_pid" || status=$?
exit $status
