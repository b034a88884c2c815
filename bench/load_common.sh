# Shared pieces of the wrk load scripts (bench/*_load.sh); sourced, not run.

build=build-release

# Configures and builds the Release targets named.
build_release() {
  ./scripts/build-release.sh "$@" > /dev/null
}

# Waits until BASE_URL/healthz answers (further arguments go to curl); exits after 5 s.
wait_for_health() {  # BASE_URL [CURL_ARGS...]
  local base=$1
  shift
  for _ in $(seq 50); do
    curl -sf -o /dev/null "$@" "$base/healthz" && return
    sleep 0.1
  done
  echo "coordinator at $base did not start" >&2
  exit 1
}

# Starts the coordinator on 127.0.0.1:PORT in the background with in-memory quotas and quiet
# logs (further arguments are passed on) and sets coord_pid; does not wait.
launch_coordinator() {  # PORT [ARGS...]
  local port=$1
  shift
  $build/lmcache coordinator --host 127.0.0.1 --port "$port" --state-path :memory: \
    --log-level warning "$@" &
  coord_pid=$!
}

# launch_coordinator, then waits until it answers /healthz over plain HTTP.
start_coordinator() {  # PORT [ARGS...]
  launch_coordinator "$@"
  wait_for_health "http://127.0.0.1:$1"
}

# Registers 1,000 instances bench-0..999 at BASE_URL (further arguments go to curl) and prints
# how many the coordinator lists.
register_instances() {  # BASE_URL [CURL_ARGS...]
  local base=$1
  shift
  for i in $(seq 0 999); do
    curl -sf -o /dev/null "$@" -X POST "$base/instances" -H 'Content-Type: application/json' \
      -d "{\"instance_id\":\"bench-$i\",\"ip\":\"127.0.0.1\",\"http_port\":$((20000 + i))}"
  done
  echo "registered on $base: $(curl -s "$@" "$base/instances" | grep -o '"instance_id"' | wc -l)"
}

# wrk -t2 -c64 for $duration seconds of bench/heartbeat.lua against URL; prints
# "requests_per_second p99_ms".
heartbeat_wrk() {  # URL
  wrk -t2 -c64 -d"${duration}s" --latency -s bench/heartbeat.lua "$1" | wrk_summary |
    awk '{print $1, $3}'
}

# $rounds rounds of heartbeat_wrk, alternating URL_A and URL_B; prints each result, the medians
# and B's median as a share of A's ("LABEL_B / LABEL_A: 97.0%").
compare_heartbeats() {  # LABEL_A URL_A LABEL_B URL_B
  local a_rps=() a_p99=() b_rps=() b_p99=() rps p99 round a b
  for round in $(seq 1 "$rounds"); do
    read -r rps p99 < <(heartbeat_wrk "$2")
    a_rps+=("$rps"); a_p99+=("$p99")
    printf 'round %s %-13s %s req/s, p99 %s ms\n' "$round" "$1:" "$rps" "$p99"
    read -r rps p99 < <(heartbeat_wrk "$4")
    b_rps+=("$rps"); b_p99+=("$p99")
    printf 'round %s %-13s %s req/s, p99 %s ms\n' "$round" "$3:" "$rps" "$p99"
  done
  a=$(median "${a_rps[@]}"); b=$(median "${b_rps[@]}")
  printf 'median %-13s %s req/s, p99 %s ms\n' "$1:" "$a" "$(median "${a_p99[@]}")"
  printf 'median %-13s %s req/s, p99 %s ms\n' "$3:" "$b" "$(median "${b_p99[@]}")"
  awk -v a="$a" -v b="$b" -v la="$1" -v lb="$3" 'BEGIN {printf "%s / %s: %.1f%%\n", lb, la, 100 * b / a}'
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
