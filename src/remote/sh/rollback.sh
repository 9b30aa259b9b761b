#!/bin/sh
# atomic-deploy rollback script: the same switch, pointed at an earlier release.
#
#   layout           the deploy folder holds atomic-deploy releases
#   lock             take the deploy lock
#   target           RELEASE_ID when given (it must have been current once),
#                    else the release model's rollback target: the
#                    highest-ranked good release other than current
#   before-activate  run the hook in the release rolled back to (when set)
#   switch           current -> that release; the one it replaces is marked bad
#   after-activate   run the hook (when set)
#   list             with LIST_RELEASES=1, the release list for the run's outputs
#
# Hooks run with DEPLOY_MODE=rollback. The lock is freed.
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS
# LOCK_TIMEOUT HOOK_BEFORE_ACTIVATE HOOK_AFTER_ACTIVATE COMMAND_TIMEOUT
# LIST_RELEASES.
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

step_layout() {
  step layout 'Checking the deploy folder'
  if [ ! -d "$RELEASES" ] || [ ! -d "$STATE" ]; then
    fail no-rollback-target "$DEPLOY_PATH holds no atomic-deploy releases (no releases/ or .atomic-deploy/ folder)"
  fi
}

step_lock() {
  step lock 'Taking the deploy lock'
  take_lock
}

step_target() {
  step target 'Choosing the release to roll back to'
  read_previous
  if [ -n "$RELEASE_ID" ]; then
    [ -d "$RELEASES/$RELEASE_ID" ] ||
      fail unknown-release "release $RELEASE_ID is not on the server; releases there: $(release_dirs)"
    case $(release_state "$RELEASE_ID") in
      good | bad) ;;
      *) fail unknown-release "release $RELEASE_ID was never switched to (its deploy did not finish); releases there: $(release_dirs)" ;;
    esac
  else
    RELEASE_ID=$(rollback_target "$CURRENT_ID")
    [ -n "$RELEASE_ID" ] ||
      fail no-rollback-target "no good release before ${CURRENT_ID:-nothing} to roll back to; releases there: $(release_dirs)"
  fi
  RELEASE_PATH="$RELEASES/$RELEASE_ID"
  say "       ${CURRENT_ID:-nothing} -> $RELEASE_ID"
}

step_before_activate() {
  step before-activate 'Running before-activate in the release rolled back to'
  if ! run_hook before-activate "$RELEASE_PATH" "$HOOK_BEFORE_ACTIVATE"; then
    fail before-activate "before-activate failed (exit status $hook_status); nothing was switched"
  fi
}

step_switch() {
  step switch 'Switching current to the release rolled back to'
  if [ "$RELEASE_ID" = "$CURRENT_ID" ]; then
    say "       $RELEASE_ID is already current"
  else
    switch_to "$RELEASE_ID"
    [ -z "$PREVIOUS_RELEASE_ID" ] || log_event marked-bad "$PREVIOUS_RELEASE_ID"
    log_event rolled-back "$RELEASE_ID"
  fi
  result current "$RELEASE_ID"
}

step_after_activate() {
  step after-activate 'Running after-activate'
  if ! run_hook after-activate "$RELEASE_PATH" "$HOOK_AFTER_ACTIVATE"; then
    fail after-activate "after-activate failed (exit status $hook_status); $RELEASE_ID stays current"
  fi
}

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
step_layout
step_lock
step_target
if [ -n "$HOOK_BEFORE_ACTIVATE" ]; then step_before_activate; fi
step_switch
if [ -n "$HOOK_AFTER_ACTIVATE" ]; then step_after_activate; fi
report_releases_at_end
finished rollback
