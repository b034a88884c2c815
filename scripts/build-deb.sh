#!/usr/bin/env bash
# Builds the Debian package from the Release build (scripts/build-release.sh) with CPack:
# build-release/package/lmcache-coordinator_<version>_amd64.deb. Needs dpkg-dev (dpkg-shlibdeps
# computes Depends). Install it with `sudo apt install ./build-release/package/*.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-release.sh lmcache man_page
cpack --config build-release/CPackConfig.cmake -B build-release/package
ls build-release/package/*.deb
