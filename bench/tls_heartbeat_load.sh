#!/usr/bin/env bash
# Heartbeats over HTTPS against plain HTTP, in one run: two coordinators on 127.0.0.1, one
# plain and one serving TLS (a P-256 certificate from a throwaway CA made with the openssl
# command), 1,000 registered instances each, wrk -t2 -c64 with keep-alive (wrk reuses its
# connections, so the TLS cost measured is record encryption, not handshakes). Rounds
# alternate plain and TLS; medians are reported.
#
# Usage: bench/tls_heartbeat_load.sh [ROUNDS=1] [SECONDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/load_common.sh
rounds=${1:-1}
duration=${2:-5}
build_release lmcache

pki=$(mktemp -d)
plain_port=19310
tls_port=19311
plain_pid=
tls_pid=
trap 'kill $plain_pid $tls_pid 2>/dev/null || true; rm -rf "$pki"' EXIT

ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 1 \
  -subj /CN=bench-ca 2>/dev/null
openssl req -new "${ec[@]}" -keyout "$pki/server.key" -out "$pki/server.csr" \
  -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1\n' > "$pki/san.cnf"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
  -set_serial 1 -days 1 -extfile "$pki/san.cnf" -out "$pki/server.pem" 2>/dev/null

start_coordinator $plain_port --instance-timeout 3600
plain_pid=$coord_pid
$build/lmcache coordinator --host 127.0.0.1 --port $tls_port --state-path :memory: \
  --log-level warning --instance-timeout 3600 \
  --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" &
tls_pid=$!
for _ in $(seq 50); do
  curl -sf -o /dev/null --cacert "$pki/ca.pem" "https://127.0.0.1:$tls_port/healthz" && break
  sleep 0.1
done

register() {  # BASE_URL [CURL_ARGS...]
  local base=$1
  shift
  for i in $(seq 0 999); do
    curl -sf -o /dev/null "$@" -X POST "$base/instances" -H 'Content-Type: application/json' \
      -d "{\"instance_id\":\"bench-$i\",\"ip\":\"127.0.0.1\",\"http_port\":$((20000 + i))}"
  done
  echo "registered on $base: $(curl -s "$@" "$base/instances" | grep -o '"instance_id"' | wc -l)"
}
register "http://127.0.0.1:$plain_port"
register "https://127.0.0.1:$tls_port" --cacert "$pki/ca.pem"

run_wrk() {  # url -> "requests_per_second p99_ms"
  wrk -t2 -c64 -d"${duration}s" --latency -s bench/heartbeat.lua "$1" | wrk_summary |
    awk '{print $1, $3}'
}

plain_rps=(); plain_p99=(); tls_rps=(); tls_p99=()
for round in $(seq 1 "$rounds"); do
  read -r rps p99 < <(run_wrk "http://127.0.0.1:$plain_port")
  plain_rps+=("$rps"); plain_p99+=("$p99")
  echo "round $round plain HTTP: $rps req/s, p99 $p99 ms"
  read -r rps p99 < <(run_wrk "https://127.0.0.1:$tls_port")
  tls_rps+=("$rps"); tls_p99+=("$p99")
  echo "round $round HTTPS:      $rps req/s, p99 $p99 ms"
done

p=$(median "${plain_rps[@]}"); t=$(median "${tls_rps[@]}")
echo "median plain HTTP: $p req/s, p99 $(median "${plain_p99[@]}") ms"
echo "median HTTPS:      $t req/s, p99 $(median "${tls_p99[@]}") ms"
awk -v p="$p" -v t="$t" 'BEGIN {printf "HTTPS / plain: %.1f%%\n", 100 * t / p}'
