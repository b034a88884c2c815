#!/usr/bin/env bash
# Runs the fleet page's browser test: tests/browser/run.sh BINARY OUTPUT_DIR
# Installs puppeteer-core with `npm ci` (as pinned in package-lock.json) into OUTPUT_DIR, then
# drives Debian's /usr/bin/chromium. Exits 77 (skipped) only when chromium, node or npm is
# missing; scripts/install-deps.sh installs them.
set -euo pipefail
binary=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is not installed (scripts/install-deps.sh installs it)"; exit 77; }
done
[ -x "$chromium" ] || { echo "SKIPPED: $chromium is missing (Debian package chromium; scripts/install-deps.sh)"; exit 77; }

deps=$out/browser-test-deps
mkdir -p "$deps"
if ! cmp -s "$here/package-lock.json" "$deps/package-lock.json" || [ ! -d "$deps/node_modules/puppeteer-core" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$deps/"
  # puppeteer-core never downloads a browser; the variable guards against a future change.
  (cd "$deps" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

export BROWSER_TEST_DEPS=$deps
export CHROMIUM=$chromium
export FLEET_PAGE_SCREENSHOT=${FLEET_PAGE_SCREENSHOT:-$out/fleet-page.png}
exec node "$here/fleet_page_test.js" "$binary"
