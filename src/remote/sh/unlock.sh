#!/bin/sh
# atomic-deploy unlock script: frees a lock left behind, saying who held it
# and whether its deploy is gone.
#
#   unlock  remove the lock (and a takeover lock), naming its holder
#
# Values: DEPLOY_PATH RELEASE_ID DEPLOY_MODE LOCK_TOKEN LOCK_OWNER LOG_FIELDS.
set -eu

# shellcheck source=lib/output.sh
. "$ATOMIC_DEPLOY_LIB/lib/output.sh"
# shellcheck source=lib/exit-codes.sh
. "$ATOMIC_DEPLOY_LIB/lib/exit-codes.sh"
# shellcheck source=lib/paths.sh
. "$ATOMIC_DEPLOY_LIB/lib/paths.sh"
# shellcheck source=lib/lock.sh
. "$ATOMIC_DEPLOY_LIB/lib/lock.sh"

step_unlock() {
  step unlock 'Freeing the deploy lock'
  if [ ! -d "$LOCK" ]; then
    say "       there is no lock at $LOCK"
    result unlocked ''
    return 0
  fi
  holder=$(lock_holder)
  if lock_is_stale; then state='its deploy is gone'; else state='its deploy may still be running'; fi
  say "       removing the lock held by $holder ($state)"
  rm -rf "$LOCK" "$LOCK.takeover"
  result unlocked "$holder"
}

# Reads only: nothing to undo.
on_exit() {
  status=$?
  trap - EXIT HUP INT TERM
  exit "$status"
}

trap_exits
step_unlock
finished unlock
