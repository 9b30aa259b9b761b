#!/usr/bin/env bash
# Usage: expect-current.sh ROOT RELEASE CONTENT
# Fails unless the deploy root's `current` links to releases/RELEASE and the
# file it serves (index.html) holds CONTENT: what a visitor would get, not the
# step's exit status.
set -euo pipefail
root=$1 release=$2 content=$3
target=$(readlink "$root/current")
if [ "$target" != "releases/$release" ]; then
  echo "current links to '$target', expected 'releases/$release'" >&2
  exit 1
fi
served=$(cat "$root/current/index.html")
if [ "$served" != "$content" ]; then
  echo "current/index.html holds '$served', expected '$content'" >&2
  exit 1
fi
echo "current -> $target, index.html: $served"
