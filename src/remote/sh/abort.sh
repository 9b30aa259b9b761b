#!/bin/sh
# atomic-deploy abort script: undoes a deploy that never finished (another
# host failed, or the job was cancelled and this is its post step).
#
#   abort  stop what is left of this run, remove its release unless it
#          became current, log it failed, and free its lock (only its own)
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
# shellcheck source=lib/cache.sh
. "$ATOMIC_DEPLOY_LIB/lib/cache.sh"

step_abort() {
  step abort 'Removing the prepared release and freeing the lock'
  if ! own_lock; then
    say "       nothing left to undo here: this run holds no lock (a prepare that failed on the server has already removed what it built)"
    return 0
  fi
  HOLDING_LOCK=1
  stop_lock_holder_processes
  read_current
  if [ "$CURRENT_ID" != "$RELEASE_ID" ]; then
    remove_tree "$RELEASE_PATH" "$STAGING"
    log_event failed "$RELEASE_ID"
    say "       removed $RELEASE_ID"
  fi
  release_lock
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
step_abort
finished abort
