#!/bin/sh
# atomic-deploy switch script: makes the prepared release current.
#
#   resume  this run still holds the lock, and its release is there
#   switch  current -> releases/<id> by one rename(2), read back; logged deployed
#
# The lock stays taken for after-activate, finish or revert.
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
# shellcheck source=lib/steps.sh
. "$ATOMIC_DEPLOY_LIB/lib/steps.sh"

# Between the phases of a deploy the lock stays taken: the next phase needs it.
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  stop_hook
  exit "$status"
}

trap_exits
step_resume
step_switch
finished switch
