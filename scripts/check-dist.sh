#!/usr/bin/env bash
# Fails when the committed dist/ is not what src/ builds to.
set -euo pipefail
cd "$(dirname "$0")/.."
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
npx tsc -p tsconfig.json
npx ncc build lib/action.js -o "$fresh" --license licenses.txt --quiet
if ! diff -r "$fresh" dist >/dev/null; then
  diff -r "$fresh" dist | head -20 >&2 || true
  echo "dist/ is stale: run 'npm run build' and commit dist/ with the source change." >&2
  exit 1
fi
echo "dist/ is fresh"
