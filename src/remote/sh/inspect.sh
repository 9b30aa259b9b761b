#!/bin/sh
# atomic-deploy inspect script: what the runner needs to know before an
# upload. Changes nothing and takes no lock.
#
#   inspect  the tools the server has (zstd, gzip, sha256sum), and the upload
#            cache's manifest when the cache is usable
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS.
set -eu

# shellcheck source=lib/output.sh
. "$ATOMIC_DEPLOY_LIB/lib/output.sh"
# shellcheck source=lib/exit-codes.sh
. "$ATOMIC_DEPLOY_LIB/lib/exit-codes.sh"
# shellcheck source=lib/paths.sh
. "$ATOMIC_DEPLOY_LIB/lib/paths.sh"
# shellcheck source=lib/fs.sh
. "$ATOMIC_DEPLOY_LIB/lib/fs.sh"
# shellcheck source=lib/cache.sh
. "$ATOMIC_DEPLOY_LIB/lib/cache.sh"

step_inspect() {
  step inspect 'Checking the server: tools, and the upload cache'
  for tool in zstd gzip sha256sum; do
    if command -v "$tool" >/dev/null 2>&1; then result has "$tool"; fi
  done
  if [ ! -f "$MANIFEST" ]; then
    result cache-miss 'there is no upload cache yet'
    return 0
  fi
  CACHE_BASE=$(sha256_of "$MANIFEST")
  problem=$(cache_problem)
  if [ -n "$problem" ]; then
    result cache-miss "$problem"
    return 0
  fi
  result cache-ok "$CACHE_BASE"
  printf '@@manifest-follows\n'
  cat "$MANIFEST"
  printf '@@manifest-ends\n'
}

# Reads only: nothing to undo.
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  exit "$status"
}

trap_exits
step_inspect
finished inspect
