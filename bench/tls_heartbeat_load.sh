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
launch_coordinator $tls_port --instance-timeout 3600 \
  --tls-cert "$pki/server.pem" --tls-key "$pki/server.key"
tls_pid=$coord_pid
wait_for_health "https://127.0.0.1:$tls_port" --cacert "$pki/ca.pem"

register_instances "http://127.0.0.1:$plain_port"
register_instances "https://127.0.0.1:$tls_port" --cacert "$pki/ca.pem"
compare_heartbeats "plain HTTP" "http://127.0.0.1:$plain_port" HTTPS "https://127.0.0.1:$tls_port"
