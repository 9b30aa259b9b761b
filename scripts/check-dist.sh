#!/usr/bin/env bash
# Fails when the committed dist/ (action and command line), action.yml or
# src/remote/shell-sources.generated.ts is not what src/ builds to.
set -euo pipefail
cd "$(dirname "$0")/.."
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
node scripts/embed-shell.js --check
npx tsc -p tsconfig.json
node scripts/write-action-yml.js --check
npx ncc build lib/action/index.js -o "$fresh" --license licenses.txt --quiet
npx ncc build lib/cli/index.js -o "$fresh/cli" --license licenses.txt --quiet
if ! diff -r "$fresh" dist >/dev/null; then
  diff -rq "$fresh" dist | head -20 >&2 || true
  echo "dist/ is stale: run 'npm run build' and commit dist/ with the source change." >&2
  exit 1
fi
echo "dist/, action.yml and the embedded shell sources are fresh"
