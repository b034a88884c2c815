# Shared pieces of the deploy checks (tests/deploy/*_test.sh); sourced, not run. Sourcing it
# makes a temporary folder $tmp and a trap that removes it and kills a coordinator still running
# (coordinator_pid); checks call fail() and go on, and finish() reports and sets the exit code.

# Exits 77 (skipped) when one of the tools named is missing; CI installs them.
require_tools() {  # TOOL...
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIP: $tool is not installed (scripts/install-deps.sh installs it)"
      exit 77
    fi
  done
}

tmp=$(mktemp -d)
coordinator_pid=""
cleanup() {
  if [ -n "$coordinator_pid" ]; then kill -KILL "$coordinator_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# Waits up to 10 s, while coordinator_pid runs, for a line of LOG matching the sed -E
# expression PATTERN with one group; prints that group (empty when none came).
wait_for_log() {  # LOG PATTERN
  local found=""
  for _ in $(seq 100); do
    found=$(sed -nE "s/.*$2.*/\\1/p" "$1" | head -1)
    [ -n "$found" ] && break
    kill -0 "$coordinator_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$found"
}

# Stops coordinator_pid with SIGTERM; fails unless it exits 0.
stop_coordinator() {  # WHAT (for the message)
  kill -TERM "$coordinator_pid"
  wait "$coordinator_pid" || fail "$1 did not exit 0 on SIGTERM"
  coordinator_pid=""
}

# Reports the failures (exit 1) or MESSAGE.
finish() {  # MESSAGE
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "$1"
}
