#!/usr/bin/env bash
# Installs the dependencies, builds the release binary and starts the
# coordinator in the foreground. Extra arguments go to `lmcache coordinator`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build-release.sh lmcache
exec ./build-release/lmcache coordinator "$@"
