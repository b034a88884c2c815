# Shared pieces of the wrk load scripts (bench/*_load.sh); sourced, not run.

build=build-release

# Configures and builds the Release targets named.
build_release() {
  ./scripts/build-release.sh "$@" > /dev/null
}

# Starts the coordinator on 127.0.0.1:PORT with in-memory quotas and quiet logs (further
# arguments are passed on), sets coord_pid and waits until it answers /healthz.
start_coordinator() {  # PORT [ARGS...]
  local port=$1
  shift
  $build/lmcache coordinator --host 127.0.0.1 --port "$port" --state-path :memory: \
    --log-level warning "$@" &
  coord_pid=$!
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return
    sleep 0.1
  done
  echo "coordinator did not start" >&2
  exit 1
}

# CPU seconds (user + system) process PID has used so far.
cpu_seconds() {  # PID
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"
}

# Reads wrk --latency output on stdin; prints "requests_per_second p50_ms p99_ms requests".
wrk_summary() {
  awk 'function ms(v) {
         if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
         if (v ~ /ms$/) { sub(/ms$/, "", v); return v }
         if (v ~ /s$/) { sub(/s$/, "", v); return v * 1000 }
         return v }
       / requests in / {n=$1} /Requests\/sec/ {rps=$2} /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)}
       END { printf "%s %.3f %.3f %s\n", rps, p50, p99, n }'
}

# The median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
