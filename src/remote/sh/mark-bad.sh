#!/bin/sh
# atomic-deploy mark-bad script: after-activate failed and revert-on-failure
# is off, so the new release stays current, marked bad (a rollback skips it).
#
#   mark-bad  log the new release marked-bad
#
# The lock stays taken for finish.
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS.
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

step_mark_bad() {
  step mark-bad 'Marking the new release bad'
  require_lock
  log_event marked-bad "$RELEASE_ID"
}

# Between the phases of a deploy the lock stays taken: the next phase needs it.
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  stop_hook
  exit "$status"
}

trap_exits
step_mark_bad
finished mark-bad
