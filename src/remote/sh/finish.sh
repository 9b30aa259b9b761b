#!/bin/sh
# atomic-deploy finish script: the end of a deploy.
#
#   lock   this run still holds the lock
#   prune  remove old releases, as the release model decides
#   list   with LIST_RELEASES=1, the release list for the run's outputs
#   spare  with SPARE_COPY=1, start a copy of the upload cache in the
#          background, for the next deploy (lib/spare.sh)
#
# The lock is freed.
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS KEEP
# LIST_RELEASES SPARE_COPY.
set -eu

# shellcheck source=lib/output.sh
. "$ATOMIC_DEPLOY_LIB/lib/output.sh"
# shellcheck source=lib/exit-codes.sh
. "$ATOMIC_DEPLOY_LIB/lib/exit-codes.sh"
# shellcheck source=lib/paths.sh
. "$ATOMIC_DEPLOY_LIB/lib/paths.sh"
# shellcheck source=lib/release.sh
. "$ATOMIC_DEPLOY_LIB/lib/release.sh"
# shellcheck source=lib/fs.sh
. "$ATOMIC_DEPLOY_LIB/lib/fs.sh"
# shellcheck source=lib/log.sh
. "$ATOMIC_DEPLOY_LIB/lib/log.sh"
# shellcheck source=lib/hooks.sh
. "$ATOMIC_DEPLOY_LIB/lib/hooks.sh"
# shellcheck source=lib/lock.sh
. "$ATOMIC_DEPLOY_LIB/lib/lock.sh"
# shellcheck source=lib/current.sh
. "$ATOMIC_DEPLOY_LIB/lib/current.sh"
# shellcheck source=lib/releases.sh
. "$ATOMIC_DEPLOY_LIB/lib/releases.sh"
# shellcheck source=lib/listing.sh
. "$ATOMIC_DEPLOY_LIB/lib/listing.sh"
# shellcheck source=lib/prune.sh
. "$ATOMIC_DEPLOY_LIB/lib/prune.sh"
# shellcheck source=lib/steps.sh
. "$ATOMIC_DEPLOY_LIB/lib/steps.sh"
# shellcheck source=lib/cache.sh
. "$ATOMIC_DEPLOY_LIB/lib/cache.sh"
# shellcheck source=lib/spare.sh
. "$ATOMIC_DEPLOY_LIB/lib/spare.sh"

# Whatever happens, the lock is freed.
on_exit() {
  status=$?
  set +e
  trap - EXIT HUP INT TERM
  trap '' PIPE
  stop_hook
  release_lock || true
  exit "$status"
}

trap_exits
step_require_lock
step_prune
report_releases_at_end
start_spare_copy
finished finish
