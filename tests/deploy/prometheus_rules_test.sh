#!/usr/bin/env bash
# deploy/prometheus/alerts.yml is valid (`promtool check rules`) and each alert fires when it
# should and only then (`promtool test rules alerts_test.yml`). That the metrics the rules query
# exist is checked against the real binary by the e2e test DeployMetrics.
#
#   prometheus_rules_test.sh SOURCE_DIR
# Exit 77 (skipped) without promtool (Debian `prometheus`; scripts/install-deps.sh installs it).
set -euo pipefail
command -v promtool >/dev/null || { echo "SKIP: promtool is not installed (Debian prometheus)"; exit 77; }
cd "$1/deploy/prometheus"
promtool check rules alerts.yml
promtool test rules alerts_test.yml
