#!/usr/bin/env bash
# Validates an OpenAPI document (api/openapi.json) with two validators, pinned in this folder's
# package-lock.json and installed here with `npm ci` (again only when the lock file changed):
#   - Redocly CLI lint (redocly.yaml: the strict recommended rules: structure of every object,
#     $refs, path parameters, unique operation ids, examples against their schemas);
#   - swagger-parser against the official OpenAPI 3.1 JSON Schema (schema-check.cjs).
# Exit 0 when both accept it, 77 (ctest's SKIP_RETURN_CODE) when node or npm is missing, 1 otherwise.
# Usage: tests/openapi/validate.sh DOCUMENT
set -euo pipefail

document=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/install-deps.sh installs it)"
    exit 77
  fi
done

cd "$here"
stamp=node_modules/.installed-package-lock.json
if ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  cp package-lock.json "$stamp"
fi

# Redocly CLI phones home unless told not to; the tests talk to the package registry only.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
node_modules/.bin/redocly lint --config redocly.yaml --format=stylish "$document"
node schema-check.cjs "$document"
