#!/bin/sh
# atomic-deploy after-activate script: runs the after-activate hook, with the
# new release current.
#
#   after-activate  run the hook in the release (when set; else only check the lock)
#
# The lock stays taken for finish or revert.
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS
# HOOK_AFTER_ACTIVATE COMMAND_TIMEOUT.
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

step_after_activate() {
  step after-activate 'Running after-activate'
  require_lock
  if ! run_hook after-activate "$RELEASE_PATH" "$HOOK_AFTER_ACTIVATE"; then
    fail after-activate "after-activate failed (exit status $hook_status)"
  fi
}

# Between the phases of a deploy the lock stays taken: the next phase needs it.
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  stop_hook
  exit "$status"
}

trap_exits
if [ -n "$HOOK_AFTER_ACTIVATE" ]; then step_after_activate; else step_require_lock; fi
finished after-activate
